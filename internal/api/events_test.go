package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/testfactory"
)

// storedEvent is an events row.
type storedEvent struct {
	ID             string    `db:"id"`
	WorkspaceID    string    `db:"workspace_id"`
	Type           string    `db:"type"`
	Body           []byte    `db:"body"`
	IdempotencyKey *string   `db:"idempotency_key"`
	CreatedAt      time.Time `db:"created_at"`
}

// mustEvent reads an events row.
func (f *fixture) mustEvent(tb testing.TB, id string) storedEvent {
	tb.Helper()
	var ev storedEvent
	if err := f.db.Get(&ev, `SELECT id::text AS id, workspace_id::text AS workspace_id, type, body, idempotency_key, created_at
		FROM events WHERE id = $1`, id); err != nil {
		tb.Fatalf("load event %s: %v", id, err)
	}
	return ev
}

// requiredPost is the part of a post.created's data its schema requires.
const requiredPost = `"post":{"id":"post_1","title":"Dark mode","status":"open","board":{"id":"board_1"},"author":{"id":"user_1"}},"source":"widget"`

// withPost puts requiredPost before the members of the JSON object data,
// so a test of how bytes are kept can send any members it likes.
func withPost(data string) string {
	rest := strings.TrimPrefix(data, "{")
	if strings.TrimSpace(rest) == "}" {
		return "{" + requiredPost + "}"
	}
	return "{" + requiredPost + "," + rest
}

// wantBody is the exact outgoing body for a stored event and its compacted data.
func wantBody(ev storedEvent, data string) string {
	return `{"id":"` + ev.ID + `","type":"` + ev.Type + `","created_at":"` + ev.CreatedAt.UTC().Format(time.RFC3339Nano) +
		`","workspace_id":"` + ev.WorkspaceID + `","data":` + data + `}`
}

func TestCreateEventFansOutToActiveSubscribedWebhooks(t *testing.T) {
	t.Parallel()
	f, a, b := setupTwoWorkspaces(t)

	postOnly := f.mustCreateHook(t, a.APIKey, "post.created")
	both := f.mustCreateHook(t, a.APIKey, "comment.created", "post.created")
	commentOnly := f.mustCreateHook(t, a.APIKey, "comment.created")
	f.mustCreateWebhook(t, a.APIKey, map[string]any{"url": "https://off.example", "events": []string{"post.created", "comment.created"}, "active": false})
	deleted := f.mustCreateHook(t, a.APIKey, "post.created", "comment.created")
	f.call(t, "DELETE", "/v1/webhooks/"+deleted.ID, a.APIKey, "").wantStatus(t, http.StatusNoContent)
	deactivated := f.mustCreateHook(t, a.APIKey, "post.created")
	f.call(t, "PATCH", "/v1/webhooks/"+deactivated.ID, a.APIKey, `{"active":false}`).wantStatus(t, http.StatusOK)
	reactivated := f.mustCreateWebhook(t, a.APIKey, map[string]any{"url": "https://on.example", "events": []string{"post.created"}, "active": false})
	f.call(t, "PATCH", "/v1/webhooks/"+reactivated.ID, a.APIKey, `{"active":true}`).wantStatus(t, http.StatusOK)
	resubscribed := f.mustCreateHook(t, a.APIKey, "nps.submitted")
	f.call(t, "PATCH", "/v1/webhooks/"+resubscribed.ID, a.APIKey, `{"events":["comment.created"]}`).wantStatus(t, http.StatusOK)
	f.mustCreateHook(t, b.APIKey, "post.created", "comment.created", "nps.submitted") // other workspace

	tests := []struct {
		typ   string
		hooks []string
	}{
		{"post.created", []string{postOnly.ID, both.ID, reactivated.ID}},
		{"comment.created", []string{both.ID, commentOnly.ID, resubscribed.ID}},
		{"nps.submitted", nil},
		{"conversation.completed", nil},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			enqueuedBefore := f.enq.Enqueued()
			res := f.call(t, "POST", "/v1/events", a.APIKey, testfactory.EventBody(t, tt.typ, nil))
			res.wantStatus(t, http.StatusAccepted)
			if diff := cmp.Diff([]string{"deliveries", "id"}, res.keys(t)); diff != "" {
				t.Errorf("answer keys (-want +got):\n%s", diff)
			}
			if h := res.Header.Get("Idempotent-Replayed"); h != "" {
				t.Errorf("Idempotent-Replayed = %q on a first request", h)
			}
			var got client.Event
			res.decodeStrict(t, &got)
			if _, err := uuid.Parse(got.ID); err != nil {
				t.Errorf("event id %q is not a UUID", got.ID)
			}
			if got.Deliveries != len(tt.hooks) {
				t.Errorf("deliveries = %d, want %d", got.Deliveries, len(tt.hooks))
			}

			var rows []struct {
				ID          string `db:"id"`
				WebhookID   string `db:"webhook_id"`
				WorkspaceID string `db:"workspace_id"`
				Status      string `db:"status"`
				Attempts    int    `db:"attempts"`
			}
			if err := f.db.Select(&rows, `SELECT id::text AS id, webhook_id::text AS webhook_id,
				workspace_id::text AS workspace_id, status, attempts FROM deliveries WHERE event_id = $1`, got.ID); err != nil {
				t.Fatal(err)
			}
			var ids, hooks []string
			for _, r := range rows {
				ids = append(ids, r.ID)
				hooks = append(hooks, r.WebhookID)
				if r.WorkspaceID != a.ID || r.Status != "pending" || r.Attempts != 0 {
					t.Errorf("delivery %s: workspace %s status %s attempts %d, want %s pending 0", r.ID, r.WorkspaceID, r.Status, r.Attempts, a.ID)
				}
			}
			if diff := cmp.Diff(sorted(tt.hooks), sorted(hooks), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("webhooks delivered to (-want +got):\n%s", diff)
			}
			enqueued := f.enq.Enqueued()[len(enqueuedBefore):]
			if diff := cmp.Diff(sorted(ids), sorted(enqueued), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("enqueued delivery ids (-stored +enqueued):\n%s", diff)
			}
			ev := f.mustEvent(t, got.ID)
			if ev.WorkspaceID != a.ID || ev.Type != tt.typ || ev.IdempotencyKey != nil {
				t.Errorf("stored event = %+v", ev)
			}
		})
	}

	var bDeliveries int
	if err := f.db.Get(&bDeliveries, `SELECT count(*) FROM deliveries WHERE workspace_id = $1`, b.ID); err != nil {
		t.Fatal(err)
	}
	if bDeliveries != 0 {
		t.Errorf("workspace B got %d deliveries from workspace A's events", bDeliveries)
	}
}

func TestCreateEventStoresExactBody(t *testing.T) {
	t.Parallel()
	f, ws, _ := setupWithHook(t, "post.created")

	tests := []struct {
		name string
		data string // as sent
		want string // as stored: compacted, nothing re-escaped
	}{
		{"only the required fields", `{}`, `{}`},
		{"whitespace removed", "{ \"a\" : 1 ,\n\t\"b\" : [ 1 , 2 , { } ] , \"c\" : { \"d\" : null } }",
			`{"a":1,"b":[1,2,{}],"c":{"d":null}}`},
		{"HTML kept as written", `{"title":"<b>Tom & Jerry</b>","url":"https://x.example/?a=1&b=2"}`,
			`{"title":"<b>Tom & Jerry</b>","url":"https://x.example/?a=1&b=2"}`},
		{"escapes kept as written", `{"s":"\u003c\"q\"\\ \n \u00e9 \/"}`, `{"s":"\u003c\"q\"\\ \n \u00e9 \/"}`},
		{"non-ASCII and line separators", "{\"s\":\"héllo 😀 \u2028\u2029\"}", "{\"s\":\"héllo 😀 \u2028\u2029\"}"},
		{"numbers kept as written", `{"big":12345678901234567890123,"f":1.50e3,"neg":-0.0}`, `{"big":12345678901234567890123,"f":1.50e3,"neg":-0.0}`},
		{"key order kept", `{"z":1,"a":2,"y":3}`, `{"z":1,"a":2,"y":3}`},
		{"32 levels of nesting, data the first", `{"deep":` + nested(31, "1") + `}`, `{"deep":` + nested(31, "1") + `}`},
		{"a key again in another object", `{"a":{"id":1},"b":[{"id":2},{"id":3}]}`, `{"a":{"id":1},"b":[{"id":2},{"id":3}]}`},
		{"keys that differ in case", `{"k":1,"K":2}`, `{"k":1,"K":2}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			got := f.mustPostEvent(t, ws.APIKey, `{"type":"post.created","data":`+withPost(tt.data)+`}`)
			ev := f.mustEvent(t, got.ID)
			if diff := cmp.Diff(wantBody(ev, withPost(tt.want)), string(ev.Body)); diff != "" {
				t.Errorf("stored body (-want +got):\n%s", diff)
			}
			if ev.ID != got.ID || ev.WorkspaceID != ws.ID {
				t.Errorf("stored event id/workspace = %s/%s, want %s/%s", ev.ID, ev.WorkspaceID, got.ID, ws.ID)
			}
			if d := ev.CreatedAt.Sub(start); d < -time.Second || d > time.Minute {
				t.Errorf("created_at %s is not around the request time %s", ev.CreatedAt, start)
			}
		})
	}

	t.Run("fields in either order", func(t *testing.T) {
		got := f.mustPostEvent(t, ws.APIKey, `{"data":`+withPost(`{"k":"v"}`)+`,"type":"post.created"}`)
		ev := f.mustEvent(t, got.ID)
		if diff := cmp.Diff(wantBody(ev, withPost(`{"k":"v"}`)), string(ev.Body)); diff != "" {
			t.Errorf("stored body (-want +got):\n%s", diff)
		}
	})

	t.Run("body of exactly 256 KiB", func(t *testing.T) {
		prefix, suffix := `{"type":"post.created","data":{`+requiredPost+`,"blob":"`, `"}}`
		blob := strings.Repeat("x", 256<<10-len(prefix)-len(suffix))
		got := f.mustPostEvent(t, ws.APIKey, prefix+blob+suffix)
		ev := f.mustEvent(t, got.ID)
		want := wantBody(ev, withPost(`{"blob":"`+blob+`"}`))
		if diff := cmp.Diff(want, string(ev.Body)); diff != "" {
			t.Errorf("stored body differs (%d bytes, want %d)", len(ev.Body), len(want))
		}
	})
}

// TestCreateEventAnswersBeforeTheEnqueue: the 202 reaches the client once
// the event is committed, while its enqueue to Redis is still under way,
// and the next request on the same connection is answered meanwhile too.
func TestCreateEventAnswersBeforeTheEnqueue(t *testing.T) {
	t.Parallel()
	f, ws, _ := setupWithHook(t, "post.created")
	enqueuing, release := make(chan struct{}), make(chan struct{})
	var first sync.Once
	f.enq.Then(func(context.Context, string) error {
		first.Do(func() {
			close(enqueuing)
			<-release
		})
		return nil
	})
	srv := httptest.NewServer(f.handler)
	t.Cleanup(srv.Close)
	t.Cleanup(f.manage.Wait)
	t.Cleanup(func() { close(release) }) // first: the enqueue ends, then the server closes

	hc := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}} // one connection for both
	t.Cleanup(hc.CloseIdleConnections)
	answered := make(chan int, 2)
	go func() {
		for range 2 {
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/events", strings.NewReader(testfactory.EventBody(t, "post.created", nil)))
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("Authorization", bearer(ws.APIKey))
			req.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(req)
			if err != nil {
				t.Errorf("POST /v1/events: %v", err)
				answered <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			answered <- resp.StatusCode
		}
	}()
	<-enqueuing
	for i := range 2 {
		select {
		case status := <-answered:
			if status != http.StatusAccepted {
				t.Errorf("request %d answered %d, want 202", i+1, status)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("request %d got no answer while the first enqueue was under way", i+1)
		}
	}
}
