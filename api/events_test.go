package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

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
	f := setup(t)
	a := f.mustCreateWorkspace(t, "A")
	b := f.mustCreateWorkspace(t, "B")

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
	f := setup(t)
	ws := f.mustCreateWorkspace(t, "Acme")
	f.mustCreateHook(t, ws.APIKey, "post.created")

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

// TestCreateEventRefusesInvalidUTF8 sends data whose string holds a byte that
// is not UTF-8. JSON text must be UTF-8 (RFC 8259 §8.1), and the published
// Node receiver reads the raw body as a string before computing the HMAC, so
// such a body would fail verification at every receiver. The API must refuse
// it, or store a body that is valid UTF-8.
func TestCreateEventRefusesInvalidUTF8(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws := f.mustCreateWorkspace(t, "Acme")
	f.mustCreateHook(t, ws.APIKey, "post.created")

	for _, data := range []string{"{\"s\":\"\xff\"}", "{\"s\":\"\xed\xa0\x80\"}", "{\"\xc3\":1}"} {
		t.Run(strings.ToValidUTF8(data, "?"), func(t *testing.T) {
			res := f.call(t, "POST", "/v1/events", ws.APIKey, `{"type":"post.created","data":`+withPost(data)+`}`)
			switch res.Status {
			case http.StatusBadRequest, http.StatusUnprocessableEntity:
				return
			case http.StatusAccepted:
				var got client.Event
				res.decodeStrict(t, &got)
				if body := f.mustEvent(t, got.ID).Body; !utf8.Valid(body) {
					t.Errorf("accepted and stored a body that is not UTF-8: %q", body)
				}
			default:
				t.Errorf("status = %d, want 400, 422, or 202 with a UTF-8 body; body: %s", res.Status, res.Body)
			}
		})
	}
}

func TestCreateEventIdempotency(t *testing.T) {
	t.Parallel()
	f := setup(t)
	a := f.mustCreateWorkspace(t, "A")
	b := f.mustCreateWorkspace(t, "B")
	f.mustCreateHook(t, a.APIKey, "post.created")
	f.mustCreateHook(t, a.APIKey, "post.created")
	f.mustCreateHook(t, b.APIKey, "post.created")

	post := func(t *testing.T, key, idem, body string) (client.Event, response) {
		t.Helper()
		res := f.do(t, request{Method: "POST", Path: "/v1/events", Auth: bearer(key), Body: body,
			Header: map[string]string{"Idempotency-Key": idem}})
		res.wantStatus(t, http.StatusAccepted)
		var got client.Event
		res.decodeStrict(t, &got)
		return got, res
	}
	body := testfactory.EventBody(t, "post.created", map[string]any{"order": 42})

	first, res := post(t, a.APIKey, "order-42", body)
	if h := res.Header.Get("Idempotent-Replayed"); h != "" {
		t.Errorf("first request: Idempotent-Replayed = %q", h)
	}
	if first.Deliveries != 2 {
		t.Fatalf("deliveries = %d, want 2", first.Deliveries)
	}
	if k := f.mustEvent(t, first.ID).IdempotencyKey; k == nil || *k != "order-42" {
		t.Errorf("stored idempotency key = %v", k)
	}

	t.Run("repeat answers the first event", func(t *testing.T) {
		before, enqueued := f.rowCounts(t), len(f.enq.Enqueued())
		for range 3 {
			again, res := post(t, a.APIKey, "order-42", body)
			if diff := cmp.Diff(first, again); diff != "" {
				t.Errorf("replayed answer (-first +replay):\n%s", diff)
			}
			if h := res.Header.Get("Idempotent-Replayed"); h != "true" {
				t.Errorf("Idempotent-Replayed = %q, want true", h)
			}
		}
		if diff := cmp.Diff(before, f.rowCounts(t)); diff != "" {
			t.Errorf("replays stored rows (-before +after):\n%s", diff)
		}
		if n := len(f.enq.Enqueued()) - enqueued; n != 0 {
			t.Errorf("replays enqueued %d deliveries", n)
		}
	})

	t.Run("replay count ignores later redeliveries and webhooks", func(t *testing.T) {
		d := f.deliveryIDsOfEvent(t, first.ID)[0]
		f.call(t, "POST", "/v1/deliveries/"+d+"/redeliver", a.APIKey, "").wantStatus(t, http.StatusAccepted)
		f.mustCreateHook(t, a.APIKey, "post.created")
		again, _ := post(t, a.APIKey, "order-42", body)
		if diff := cmp.Diff(first, again); diff != "" {
			t.Errorf("replayed answer (-first +replay):\n%s", diff)
		}
	})

	t.Run("the same event with other whitespace replays", func(t *testing.T) {
		var spaced bytes.Buffer
		if err := json.Indent(&spaced, []byte(body), " ", "\t"); err != nil {
			t.Fatal(err)
		}
		again, res := post(t, a.APIKey, "order-42", spaced.String())
		if diff := cmp.Diff(first, again); diff != "" {
			t.Errorf("replayed answer (-first +replay):\n%s", diff)
		}
		if h := res.Header.Get("Idempotent-Replayed"); h != "true" {
			t.Errorf("Idempotent-Replayed = %q, want true", h)
		}
	})

	t.Run("another event under the same key is refused", func(t *testing.T) {
		// body's data begins with "order", which sorts first.
		reordered := strings.Replace(body, `"order":42,`, "", 1)
		reordered = strings.TrimSuffix(reordered, "}}") + `,"order":42}}`
		tests := []struct{ name, body string }{
			{"other data", testfactory.EventBody(t, "post.created", map[string]any{"order": 43})},
			{"another type", testfactory.EventBody(t, "comment.created", map[string]any{"order": 42})},
			{"the same members in another order", reordered},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f.mustRefuseEvent(t, a.APIKey, "order-42", tt.body, apiError{Status: 422, Code: "idempotency_key_reused", Field: "Idempotency-Key",
					Message: `Idempotency-Key "order-42" was already used for a different event (id ` + first.ID + `); use a new key for a new event`})
			})
		}
		again, _ := post(t, a.APIKey, "order-42", body)
		if diff := cmp.Diff(first, again); diff != "" {
			t.Errorf("the key's own event after refusals (-first +replay):\n%s", diff)
		}
	})

	t.Run("another key is another event", func(t *testing.T) {
		other, res := post(t, a.APIKey, "order-43", body)
		if other.ID == first.ID || res.Header.Get("Idempotent-Replayed") != "" {
			t.Errorf("order-43 answered as a replay of order-42: %+v %v", other, res.Header)
		}
	})

	t.Run("keys are per workspace", func(t *testing.T) {
		inB, res := post(t, b.APIKey, "order-42", body)
		if inB.ID == first.ID || res.Header.Get("Idempotent-Replayed") != "" {
			t.Errorf("workspace B's order-42 answered as workspace A's event: %+v", inB)
		}
		if inB.Deliveries != 1 {
			t.Errorf("deliveries = %d, want 1", inB.Deliveries)
		}
		if ws := f.mustEvent(t, inB.ID).WorkspaceID; ws != b.ID {
			t.Errorf("event stored in workspace %s, want %s", ws, b.ID)
		}
	})

	t.Run("a refused request does not use up its key", func(t *testing.T) {
		res := f.do(t, request{Method: "POST", Path: "/v1/events", Auth: bearer(a.APIKey), Body: `{"type":"post.created"}`,
			Header: map[string]string{"Idempotency-Key": "order-44"}})
		res.wantError(t, apiError{Status: 422, Code: "validation_failed", Field: "data"})
		_, res = post(t, a.APIKey, "order-44", body)
		if h := res.Header.Get("Idempotent-Replayed"); h != "" {
			t.Errorf("Idempotent-Replayed = %q after a refused first try", h)
		}
	})

	t.Run("255 printable characters", func(t *testing.T) {
		var k strings.Builder
		for i := range 255 {
			k.WriteByte(byte(0x20 + i%0x5f))
		}
		got, _ := post(t, a.APIKey, k.String(), body)
		if stored := f.mustEvent(t, got.ID).IdempotencyKey; stored == nil || *stored != k.String() {
			t.Errorf("stored idempotency key = %v, want %q", stored, k.String())
		}
		again, res := post(t, a.APIKey, k.String(), body)
		if again.ID != got.ID || res.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("repeat of a 255-character key was not a replay")
		}
	})

	t.Run("no key, no deduplication", func(t *testing.T) {
		x := f.mustPostEvent(t, a.APIKey, body)
		y := f.mustPostEvent(t, a.APIKey, body)
		if x.ID == y.ID {
			t.Errorf("two events without a key share id %s", x.ID)
		}
	})
}

// TestCreateEventOutlivesAHangUp: a client that hangs up right after sending
// an event, before its commit or between the commit and the enqueue, does
// not hold its deliveries back until the outbox sweep: the event is stored
// and its tasks are enqueued on a context the hang-up does not cancel.
func TestCreateEventOutlivesAHangUp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		beforeCommit  bool // the client is gone before the handler runs
		atEnqueueOnly bool // the client hangs up once the event is committed
	}{
		{name: "before the commit", beforeCommit: true},
		{name: "after the commit", atEnqueueOnly: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			ws := f.mustCreateWorkspace(t, "Acme")
			f.mustCreateHook(t, ws.APIKey, "post.created")
			f.mustCreateHook(t, ws.APIKey, "post.created")
			ctx, hangUp := context.WithCancel(context.Background())
			defer hangUp()
			if tc.beforeCommit {
				hangUp()
			}
			var enqueuedAfterHangUp []error
			var mu sync.Mutex
			f.enq.Then(func(ctx context.Context, _ string) error {
				if tc.atEnqueueOnly {
					hangUp()
				}
				mu.Lock()
				defer mu.Unlock()
				enqueuedAfterHangUp = append(enqueuedAfterHangUp, ctx.Err())
				return ctx.Err() // as asynq's client does with a cancelled context
			})
			f.do(t, request{Method: http.MethodPost, Path: "/v1/events", Auth: bearer(ws.APIKey),
				Body: testfactory.EventBody(t, "post.created", nil), Context: ctx})

			var events []string
			if err := f.db.Select(&events, `SELECT id FROM events WHERE workspace_id = $1`, ws.ID); err != nil {
				t.Fatal(err)
			}
			if len(events) != 1 {
				t.Fatalf("%d events stored after the hang-up, want 1", len(events))
			}
			if diff := cmp.Diff(f.deliveryIDsOfEvent(t, events[0]), sorted(f.enq.Enqueued())); diff != "" {
				t.Errorf("enqueued (-stored +enqueued):\n%s", diff)
			}
			if diff := cmp.Diff([]error{nil, nil}, enqueuedAfterHangUp, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("enqueue context errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCreateEventAnswersBeforeTheEnqueue: the 202 reaches the client once
// the event is committed, while its enqueue to Redis is still under way,
// and the next request on the same connection is answered meanwhile too.
func TestCreateEventAnswersBeforeTheEnqueue(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws := f.mustCreateWorkspace(t, "Acme")
	f.mustCreateHook(t, ws.APIKey, "post.created")
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

func TestCreateEventEnqueueFailureStillAccepted(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.enq.Then(func(context.Context, string) error { return errors.New("redis: connection refused") })
	ws := f.mustCreateWorkspace(t, "Acme")
	f.mustCreateHook(t, ws.APIKey, "post.created")
	f.mustCreateHook(t, ws.APIKey, "post.created")

	got := f.mustPostEvent(t, ws.APIKey, testfactory.EventBody(t, "post.created", nil))
	if got.Deliveries != 2 {
		t.Errorf("deliveries = %d, want 2", got.Deliveries)
	}
	ids := f.deliveryIDsOfEvent(t, got.ID)
	if diff := cmp.Diff(ids, sorted(f.enq.Enqueued())); diff != "" {
		t.Errorf("enqueue attempts (-stored +tried):\n%s", diff)
	}
	var pending []struct {
		Status  string     `db:"status"`
		NextDue *time.Time `db:"next_attempt_at"`
	}
	if err := f.db.Select(&pending, `SELECT status, next_attempt_at FROM deliveries WHERE event_id = $1`, got.ID); err != nil {
		t.Fatal(err)
	}
	for _, p := range pending {
		if p.Status != "pending" || p.NextDue == nil {
			t.Errorf("delivery status %q next_attempt_at %v, want pending with a due time for the outbox sweep", p.Status, p.NextDue)
		}
	}
	if len(pending) != 2 {
		t.Errorf("%d deliveries stored, want 2", len(pending))
	}
}

// mustRefuseEvent posts body under the Idempotency-Key idem and checks the
// refusal, its message too when want has one, and that nothing was stored
// or enqueued.
func (f *fixture) mustRefuseEvent(tb testing.TB, apiKey, idem, body string, want apiError) {
	tb.Helper()
	before, enqueued := f.rowCounts(tb), len(f.enq.Enqueued())
	res := f.do(tb, request{Method: "POST", Path: "/v1/events", Auth: bearer(apiKey), Body: body,
		Header: map[string]string{"Idempotency-Key": idem}})
	res.wantError(tb, apiError{Status: want.Status, Code: want.Code, Field: want.Field})
	var got struct {
		Error apiError `json:"error"`
	}
	res.decode(tb, &got)
	if want.Message != "" && got.Error.Message != want.Message {
		tb.Errorf("message %q, want %q", got.Error.Message, want.Message)
	}
	if h := res.Header.Get("Idempotent-Replayed"); h != "" {
		tb.Errorf("Idempotent-Replayed = %q on a refusal", h)
	}
	if diff := cmp.Diff(before, f.rowCounts(tb)); diff != "" {
		tb.Errorf("a refused event stored rows (-before +after):\n%s", diff)
	}
	if n := len(f.enq.Enqueued()) - enqueued; n != 0 {
		tb.Errorf("a refused event enqueued %d deliveries", n)
	}
}

// TestCreateEventValidatesData: data its type's schema refuses, data nested
// more than 32 levels deep (data itself the first) or giving an object key
// twice, and a request giving a field twice are a 422 naming the JSON
// pointer of the first bad value, or the field; nothing is stored, enqueued
// or used up: the same key then takes the corrected event.
func TestCreateEventValidatesData(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws := f.mustCreateWorkspace(t, "Acme")
	f.mustCreateHook(t, ws.APIKey, "post.created", "nps.submitted", "conversation.completed")
	tooDeep := "/data/deep" + strings.Repeat("/0", 31)

	tests := []struct {
		name, body, field string
		message           string // compared when set
	}{
		{name: "post without an id", body: `{"type":"post.created","data":{"post":{"title":"T","status":"open","board":{"id":"b"},"author":{"id":"u"}},"source":"widget"}}`, field: "/data/post/id"},
		{name: "unknown source", body: `{"type":"post.created","data":{` + requiredPost[:strings.LastIndex(requiredPost, ",")] + `,"source":"email"}}`, field: "/data/source"},
		{name: "an empty data object", body: `{"type":"nps.submitted","data":{}}`, field: "/data/id"},
		{name: "score out of range", body: `{"type":"nps.submitted","data":` + testfactory.EventData(t, "nps.submitted", map[string]any{"score": 11}) + `}`, field: "/data/score"},
		{name: "a score as a string", body: `{"type":"nps.submitted","data":` + testfactory.EventData(t, "nps.submitted", map[string]any{"score": "9"}) + `}`, field: "/data/score"},
		{name: "a time that is not RFC 3339", body: `{"type":"conversation.completed","data":` + testfactory.EventData(t, "conversation.completed",
			map[string]any{"timings": map[string]any{"started_at": "30/11/2026", "completed_at": "2026-11-30T16:58:12Z"}}) + `}`, field: "/data/timings/started_at"},
		{name: "5,000 levels in 10 KB", body: `{"type":"post.created","data":` + withPost(`{"deep":`+nested(5000, "1")+`}`) + `}`, field: tooDeep,
			message: "data" + strings.TrimPrefix(tooDeep, "/data") + ": objects and arrays nested more than 32 levels deep"},
		{name: "33 levels", body: `{"type":"post.created","data":` + withPost(`{"deep":`+nested(32, "1")+`}`) + `}`, field: tooDeep},
		{name: "a key twice", body: `{"type":"nps.submitted","data":{"id":"n1","score":11,"score":9,"respondent":{"id":"u"}}}`, field: "/data/score",
			message: `data/score: duplicate key "score"`},
		{name: "a key twice, once escaped", body: `{"type":"nps.submitted","data":{"id":"n1","score":9,"\u0073core":9,"respondent":{"id":"u"}}}`, field: "/data/score"},
		{name: "a nested key twice", body: `{"type":"nps.submitted","data":{"id":"n1","score":9,"respondent":{"id":"u","id":"v"}}}`, field: "/data/respondent/id"},
		{name: "a request field twice", body: `{"type":"post.created","type":"nps.submitted","data":` + testfactory.EventData(t, "nps.submitted", nil) + `}`,
			field: "type", message: `field "type" given twice`},
		{name: "a request field twice, in another case", body: `{"type":"nps.submitted","data":{},"Data":` + testfactory.EventData(t, "nps.submitted", nil) + `}`, field: "Data"},
		{name: "a request field twice, once escaped, after data holding look-alikes",
			body: `{"type":"nps.submitted","data":{"type":[{"type":"}]"}],"s":"\\\",\"type\":"},"\u0074ype":"nps.submitted"}`, field: "type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.mustRefuseEvent(t, ws.APIKey, "k-"+tt.name, tt.body,
				apiError{Status: 422, Code: "validation_failed", Field: tt.field, Message: tt.message})
		})
	}
	res := f.do(t, request{Method: "POST", Path: "/v1/events", Auth: bearer(ws.APIKey), Body: testfactory.EventBody(t, "nps.submitted", nil),
		Header: map[string]string{"Idempotency-Key": "k-" + tests[2].name}})
	res.wantStatus(t, http.StatusAccepted)
	if h := res.Header.Get("Idempotent-Replayed"); h != "" {
		t.Errorf("Idempotent-Replayed = %q after a refused first try", h)
	}
}

// nested is inner inside n arrays.
func nested(n int, inner string) string {
	return strings.Repeat("[", n) + inner + strings.Repeat("]", n)
}

// TestCreateEventRefusesDeepDataCheaply: a 10 KB event nesting 5,000
// levels deep is refused without anything building the document: the
// whole request, from reading the body to writing the 422, allocates less
// than maxBytes (before the shape check, accepting it took 930 KB). Most
// of what is left is encoding/json's strict decode of the request, whose
// scanner keeps a stack as deep as the body, up to its own limit of 10,000
// levels. Not parallel: the allocation counter is the process's.
func TestCreateEventRefusesDeepDataCheaply(t *testing.T) {
	const maxBytes = 512 << 10
	f := setup(t)
	ws := f.mustCreateWorkspace(t, "Acme")
	req := request{Method: "POST", Path: "/v1/events", Auth: bearer(ws.APIKey),
		Body: `{"type":"post.created","data":` + withPost(`{"deep":`+nested(5000, "1")+`}`) + `}`}
	serve := func() {
		w := httptest.NewRecorder()
		f.handler.ServeHTTP(w, req.http())
		if w.Code != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422: %s", w.Code, w.Body)
		}
	}
	serve() // warm up: the key's first lookup, the pools
	const runs = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		serve()
	}
	runtime.ReadMemStats(&after)
	perRequest := (after.TotalAlloc - before.TotalAlloc) / runs
	t.Logf("a %d-byte event nesting 5,000 levels: %d bytes allocated per request", len(req.Body), perRequest)
	if perRequest > maxBytes {
		t.Errorf("%d bytes allocated per request, want at most %d", perRequest, maxBytes)
	}
}
