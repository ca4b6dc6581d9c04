package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/trackelio/webhooks/client"
)

// caller is a small JSON client for the api. Answers decode into the
// published client's types, so every test also proves they match the
// running server.
type caller struct {
	sys   *system
	token string
}

// do sends a request and returns the status and body. in is sent as is
// when it is a []byte, otherwise encoded as JSON; nil sends no body.
// Extra headers come as name, value pairs. An answer api/openapi.json does
// not describe fails the test.
func (c caller) do(t testing.TB, method, path string, in any, headers ...string) (int, []byte) {
	t.Helper()
	var body io.Reader
	switch v := in.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("encode %s %s body: %v", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.sys.apiURL+path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.sys.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	checkAnswer(t, req, resp, b)
	return resp.StatusCode, b
}

// call sends a request, fails the test unless the status is want, and
// decodes the answer into out unless out is nil.
func (c caller) call(t testing.TB, method, path string, in any, want int, out any, headers ...string) {
	t.Helper()
	status, body := c.do(t, method, path, in, headers...)
	if status != want {
		t.Fatalf("%s %s: status %d, want %d; body: %s", method, path, status, want, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, body, err)
		}
	}
}

// apiError is the api's error body.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// workspace is an api client authenticated with a new workspace's key.
type workspace struct {
	caller
	ID   string
	Name string
}

func (s *system) newWorkspace(t testing.TB) *workspace {
	t.Helper()
	var created struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		APIKey string `json:"api_key"`
	}
	name := "e2e " + t.Name()
	caller{sys: s, token: s.adminToken}.call(t, "POST", "/v1/admin/workspaces",
		map[string]string{"name": name}, http.StatusCreated, &created)
	if created.ID == "" || created.APIKey == "" || created.Name != name {
		t.Fatalf("POST /v1/admin/workspaces answered %+v", created)
	}
	s.rememberSecret(created.APIKey)
	return &workspace{caller: caller{sys: s, token: created.APIKey}, ID: created.ID, Name: created.Name}
}

// createWebhook creates a webhook from a request body and remembers its
// secret so the processes' output can be checked for it.
func (w *workspace) createWebhook(t testing.TB, req map[string]any) client.Webhook {
	t.Helper()
	var wh client.Webhook
	w.call(t, "POST", "/v1/webhooks", req, http.StatusCreated, &wh)
	if wh.ID == "" || wh.Secret == "" {
		t.Fatalf("POST /v1/webhooks answered %+v", wh)
	}
	w.sys.rememberSecret(wh.Secret)
	return wh
}

// get reads path with c's token into a T; it must answer 200.
func get[T any](t testing.TB, c caller, path string) T {
	t.Helper()
	var v T
	c.call(t, "GET", path, nil, http.StatusOK, &v)
	return v
}

func (w *workspace) webhook(t testing.TB, id string) client.Webhook {
	t.Helper()
	return get[client.Webhook](t, w.caller, "/v1/webhooks/"+id)
}

// webhooks lists the workspace's webhooks.
func (w *workspace) webhooks(t testing.TB) []client.Webhook {
	t.Helper()
	return get[struct {
		Data []client.Webhook `json:"data"`
	}](t, w.caller, "/v1/webhooks").Data
}

// secret is a webhook's current signing secret.
func (w *workspace) secret(t testing.TB, id string) string {
	t.Helper()
	return get[struct {
		Secret string `json:"secret"`
	}](t, w.caller, "/v1/webhooks/"+id+"/secret").Secret
}

// postEvent posts {"type": typ, "data": data} with data as raw JSON text,
// so the test controls its exact bytes. Extra headers come as name, value
// pairs. The answer's Replayed and IdempotencyKey stay zero: Publish sets
// them from its request and the answer's headers, not from the body.
func (w *workspace) postEvent(t testing.TB, typ, data string, headers ...string) client.Event {
	t.Helper()
	typJSON, _ := json.Marshal(typ)
	body := []byte(`{"type": ` + string(typJSON) + `, "data": ` + data + "}")
	var a client.Event
	w.call(t, "POST", "/v1/events", body, http.StatusAccepted, &a, headers...)
	if a.ID == "" {
		t.Fatalf("POST /v1/events answered no event id")
	}
	return a
}

func (w *workspace) delivery(t testing.TB, id string) client.DeliveryDetail {
	t.Helper()
	return get[client.DeliveryDetail](t, w.caller, "/v1/deliveries/"+id)
}

// deliveryPage reads one page of a webhook's history. DeliveryPage reads
// the last page's null next_cursor as "": the contract, checked on every
// answer by caller.do, says a cursor is never "", so an empty NextCursor
// means null.
func (w *workspace) deliveryPage(t testing.TB, webhookID string, q url.Values) client.DeliveryPage {
	t.Helper()
	return get[client.DeliveryPage](t, w.caller, "/v1/webhooks/"+webhookID+"/deliveries?"+q.Encode())
}

// history returns a webhook's whole delivery history, newest first, read
// in pages of the given size.
func (w *workspace) history(t testing.TB, webhookID string, pageSize int) []client.Delivery {
	t.Helper()
	all := []client.Delivery{}
	cursor := ""
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatalf("delivery history of %s does not end", webhookID)
		}
		q := url.Values{"limit": {fmt.Sprint(pageSize)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		resp := w.deliveryPage(t, webhookID, q)
		if len(resp.Data) > pageSize {
			t.Fatalf("asked for %d deliveries, got %d", pageSize, len(resp.Data))
		}
		all = append(all, resp.Data...)
		if resp.NextCursor == "" {
			return all
		}
		if resp.NextCursor == cursor {
			t.Fatalf("bad next_cursor %q after cursor %q", resp.NextCursor, cursor)
		}
		cursor = resp.NextCursor
	}
}

// rows returns a webhook's history (at most 100 deliveries), newest first.
func (w *workspace) rows(t testing.TB, webhookID string) []client.Delivery {
	t.Helper()
	page := w.deliveryPage(t, webhookID, url.Values{"limit": {"100"}})
	if page.NextCursor != "" {
		t.Fatalf("history of %s has more than 100 deliveries", webhookID)
	}
	return page.Data
}

// waitFinished waits until a delivery is no longer pending and returns it.
func (w *workspace) waitFinished(t testing.TB, id string) client.DeliveryDetail {
	t.Helper()
	var d client.DeliveryDetail
	w.sys.waitFor(t, "delivery "+id+" to finish", func() (bool, string) {
		d = w.delivery(t, id)
		return d.Status != "pending", fmt.Sprintf("status %s after %d attempts", d.Status, d.AttemptCount)
	})
	return d
}

// waitHistory waits until a webhook's history holds n finished deliveries
// and returns it.
func (w *workspace) waitHistory(t testing.TB, webhookID string, n int) []client.Delivery {
	t.Helper()
	var h []client.Delivery
	w.sys.waitFor(t, fmt.Sprintf("%d finished deliveries of webhook %s", n, webhookID), func() (bool, string) {
		h = w.history(t, webhookID, 100)
		finished := 0
		for _, d := range h {
			if d.Status != "pending" {
				finished++
			}
		}
		return len(h) == n && finished == n, fmt.Sprintf("%d deliveries, %d finished", len(h), finished)
	})
	return h
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
