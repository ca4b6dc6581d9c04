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
	"time"
)

// client is a small JSON client for the api.
type client struct {
	sys   *system
	token string
}

// do sends a request and returns the status and body. in is sent as is
// when it is a []byte, otherwise encoded as JSON; nil sends no body.
// Extra headers come as name, value pairs. An answer api/openapi.json does
// not describe fails the test.
func (c client) do(t testing.TB, method, path string, in any, headers ...string) (int, []byte) {
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
func (c client) call(t testing.TB, method, path string, in any, want int, out any, headers ...string) {
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
	client
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
	client{sys: s, token: s.adminToken}.call(t, "POST", "/v1/admin/workspaces",
		map[string]string{"name": name}, http.StatusCreated, &created)
	if created.ID == "" || created.APIKey == "" || created.Name != name {
		t.Fatalf("POST /v1/admin/workspaces answered %+v", created)
	}
	s.mu.Lock()
	s.secrets = append(s.secrets, created.APIKey)
	s.mu.Unlock()
	return &workspace{client: client{sys: s, token: created.APIKey}, ID: created.ID, Name: created.Name}
}

type webhook struct {
	ID                  string    `json:"id"`
	URL                 string    `json:"url"`
	Events              []string  `json:"events"`
	Active              bool      `json:"active"`
	Description         string    `json:"description"`
	Secret              string    `json:"secret"`
	FailureCount        int       `json:"failure_count"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
}

// createWebhook creates a webhook from a request body and remembers its
// secret so the processes' output can be checked for it.
func (w *workspace) createWebhook(t testing.TB, req map[string]any) webhook {
	t.Helper()
	var wh webhook
	w.call(t, "POST", "/v1/webhooks", req, http.StatusCreated, &wh)
	if wh.ID == "" || wh.Secret == "" {
		t.Fatalf("POST /v1/webhooks answered %+v", wh)
	}
	w.sys.mu.Lock()
	w.sys.secrets = append(w.sys.secrets, wh.Secret)
	w.sys.mu.Unlock()
	return wh
}

func (w *workspace) webhook(t testing.TB, id string) webhook {
	t.Helper()
	var wh webhook
	w.call(t, "GET", "/v1/webhooks/"+id, nil, http.StatusOK, &wh)
	return wh
}

// accepted is the answer to POST /v1/events.
type accepted struct {
	ID         string `json:"id"`
	Deliveries int    `json:"deliveries"`
}

// postEvent posts {"type": typ, "data": data} with data as raw JSON text,
// so the test controls its exact bytes. Extra headers come as name, value
// pairs.
func (w *workspace) postEvent(t testing.TB, typ, data string, headers ...string) accepted {
	t.Helper()
	typJSON, _ := json.Marshal(typ)
	body := []byte(`{"type": ` + string(typJSON) + `, "data": ` + data + "}")
	var a accepted
	w.call(t, "POST", "/v1/events", body, http.StatusAccepted, &a, headers...)
	if a.ID == "" {
		t.Fatalf("POST /v1/events answered no event id")
	}
	return a
}

// delivery is a delivery as the webhook history lists it.
type delivery struct {
	ID                string     `json:"id"`
	EventID           string     `json:"event_id"`
	EventType         string     `json:"event_type"`
	WebhookID         string     `json:"webhook_id"`
	Status            string     `json:"status"`
	Attempts          int        `json:"attempts"`
	StatusCode        *int       `json:"status_code"`
	ResponseBody      string     `json:"response_body"`
	ResponseTruncated bool       `json:"response_truncated"`
	LastError         *string    `json:"last_error"`
	LastAttemptAt     *time.Time `json:"last_attempt_at"`
	NextAttemptAt     *time.Time `json:"next_attempt_at"`
	CreatedAt         time.Time  `json:"created_at"`
}

// attempt is one HTTP attempt of a delivery.
type attempt struct {
	Attempt           int       `json:"attempt"`
	StatusCode        *int      `json:"status_code"`
	ResponseBody      string    `json:"response_body"`
	ResponseTruncated bool      `json:"response_truncated"`
	Error             *string   `json:"error"`
	DurationMS        int       `json:"duration_ms"`
	CreatedAt         time.Time `json:"created_at"`
}

// deliveryDetail is GET /v1/deliveries/{id}: the delivery with its attempts.
type deliveryDetail struct {
	delivery
	Attempts     []attempt `json:"attempts"` // shadows delivery.Attempts
	AttemptCount int       `json:"attempt_count"`
}

func (w *workspace) delivery(t testing.TB, id string) deliveryDetail {
	t.Helper()
	var d deliveryDetail
	w.call(t, "GET", "/v1/deliveries/"+id, nil, http.StatusOK, &d)
	return d
}

// history returns a webhook's whole delivery history, newest first, read
// in pages of the given size.
func (w *workspace) history(t testing.TB, webhookID string, pageSize int) []delivery {
	t.Helper()
	all := []delivery{}
	cursor := ""
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatalf("delivery history of %s does not end", webhookID)
		}
		q := url.Values{"limit": {fmt.Sprint(pageSize)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var resp struct {
			Data       []delivery `json:"data"`
			NextCursor *string    `json:"next_cursor"`
		}
		w.call(t, "GET", "/v1/webhooks/"+webhookID+"/deliveries?"+q.Encode(), nil, http.StatusOK, &resp)
		if len(resp.Data) > pageSize {
			t.Fatalf("asked for %d deliveries, got %d", pageSize, len(resp.Data))
		}
		all = append(all, resp.Data...)
		if resp.NextCursor == nil {
			return all
		}
		if *resp.NextCursor == "" || *resp.NextCursor == cursor {
			t.Fatalf("bad next_cursor %q after cursor %q", *resp.NextCursor, cursor)
		}
		cursor = *resp.NextCursor
	}
}

// waitFinished waits until a delivery is no longer pending and returns it.
func (w *workspace) waitFinished(t testing.TB, id string) deliveryDetail {
	t.Helper()
	var d deliveryDetail
	w.sys.waitFor(t, "delivery "+id+" to finish", func() (bool, string) {
		d = w.delivery(t, id)
		return d.Status != "pending", fmt.Sprintf("status %s after %d attempts", d.Status, d.AttemptCount)
	})
	return d
}

// waitHistory waits until a webhook's history holds n finished deliveries
// and returns it.
func (w *workspace) waitHistory(t testing.TB, webhookID string, n int) []delivery {
	t.Helper()
	var h []delivery
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

func intp(n int) *int { return &n }
