package client_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/api"
	"github.com/trackelio/webhooks/internal/dbtest"
)

func TestListEventTypes(t *testing.T) {
	t.Parallel()
	_, c, rec := setup(t)
	types, err := c.ListEventTypes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names, operational []string
	for _, et := range types {
		names = append(names, et.Type)
		if et.Description == "" {
			t.Errorf("%s has no description", et.Type)
		}
		if et.Operational {
			operational = append(operational, et.Type)
		}
	}
	wantOperational := []string{"webhook.failing", "webhook.at_risk", "webhook.disabled", "webhook.recovered", "delivery.exhausted"}
	want := append([]string{"post.created", "post.status_changed", "post.assigned", "comment.created", "nps.submitted", "csat.submitted", "conversation.completed"}, wantOperational...)
	if diff := cmp.Diff(wantOperational, operational); diff != "" {
		t.Errorf("operational types (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("types (-want +got):\n%s", diff)
	}
	wantFields(t, first(t, member(t, rec.last(t).Body, "data")), client.EventType{}, "schema", "example")
}

// TestPublish: a published event, its generated key, and a replay of a
// given key, as the api answers them.
func TestPublish(t *testing.T) {
	t.Parallel()
	a, c, rec, _ := setupWithHook(t, "post.created")

	ev := mustPublish(t, c, "post.created", postCreated)
	sent := rec.last(t)
	if ev.ID == "" || ev.Deliveries != 1 || ev.Replayed || ev.IdempotencyKey == "" || sent.Header.Get("Idempotency-Key") != ev.IdempotencyKey {
		t.Errorf("Publish = %+v with Idempotency-Key %q; want an event with 1 delivery and the key sent", ev, sent.Header.Get("Idempotency-Key"))
	}
	wantFields(t, sent.Body, client.Event{})

	// Any value encoding/json takes will do as data.
	var comment map[string]any
	if err := json.Unmarshal(commentCreated, &comment); err != nil {
		t.Fatal(err)
	}
	first := mustPublish(t, c, "comment.created", comment, client.WithIdempotencyKey("cmt_1-created"))
	again := mustPublish(t, c, "comment.created", comment, client.WithIdempotencyKey("cmt_1-created"))
	want := client.Event{ID: first.ID, Deliveries: 0, Replayed: true, IdempotencyKey: "cmt_1-created"}
	if diff := cmp.Diff(want, again); diff != "" || first.Replayed {
		t.Errorf("the repeat (-want +got):\n%s\nfirst: %+v", diff, first)
	}
	var stored int
	if err := a.db.Get(&stored, `SELECT count(*) FROM events`); err != nil || stored != 2 {
		t.Errorf("%d events stored (%v), want 2", stored, err)
	}
}

func TestPublishRefusals(t *testing.T) {
	t.Parallel()
	_, c, rec := setup(t)
	mustPublish(t, c, "post.created", postCreated, client.WithIdempotencyKey("used"))
	noID := json.RawMessage(`{"post":{"title":"Dark mode","body":"Please add a dark theme.","status":"open","board":{"id":"board_1","name":"Ideas"},"author":{"id":"user_1","name":"Ana"}},"source":"widget"}`)
	tests := []struct {
		name      string
		eventType string
		data      any
		key       string
		want      client.Error // Message not compared
	}{
		{"unknown type", "post.deleted", postCreated, "", client.Error{Status: 422, Code: client.CodeValidationFailed, Field: "type"}},
		{"data not an object", "post.created", []string{"x"}, "", client.Error{Status: 422, Code: client.CodeValidationFailed, Field: "data"}},
		{"data against its schema", "post.created", noID, "", client.Error{Status: 422, Code: client.CodeValidationFailed, Field: "/data/post/id"}},
		{"a key the api refuses", "post.created", postCreated, "ключ", client.Error{Status: 422, Code: client.CodeValidationFailed, Field: "Idempotency-Key"}},
		{"a key used for another event", "comment.created", commentCreated, "used", client.Error{Status: 422, Code: client.CodeIdempotencyKeyReused, Field: "Idempotency-Key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(rec.all())
			_, err := c.Publish(context.Background(), tt.eventType, tt.data, client.WithIdempotencyKey(tt.key))
			wantError(t, err, tt.want)
			if n := len(rec.all()) - before; n != 1 {
				t.Errorf("%d attempts, want 1", n)
			}
		})
	}
	// Data that is not JSON is refused before anything is sent.
	before := len(rec.all())
	if _, err := c.Publish(context.Background(), "post.created", json.RawMessage(`{"post":`)); err == nil || len(rec.all()) != before {
		t.Errorf("invalid raw data: err %v after %d requests, want an error and none", err, len(rec.all())-before)
	}
}

// TestPublishWaitsOutTheRateLimit: the api's 429 is retried after its
// Retry-After, on the wall clock, and the event is accepted once.
func TestPublishWaitsOutTheRateLimit(t *testing.T) {
	t.Parallel()
	a := startAPI(t, func(c *api.Config) { c.RateLimit, c.RateBurst = 2, 1 })
	c, rec := a.client(t, a.mustWorkspace(t, "Acme"))
	mustPublish(t, c, "post.created", postCreated)
	start := time.Now()
	ev := mustPublish(t, c, "post.created", postCreated)
	var statuses []int
	var keys []string
	for _, ex := range rec.all()[1:] {
		statuses = append(statuses, ex.Status)
		keys = append(keys, ex.Header.Get("Idempotency-Key"))
	}
	if diff := cmp.Diff([]int{429, 202}, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if keys[0] != keys[1] || keys[0] != ev.IdempotencyKey {
		t.Errorf("keys %q, want the event's %q twice", keys, ev.IdempotencyKey)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("retried after %v, before the Retry-After of 1s", waited)
	}
}

// TestPublishRidesOutADatabaseOutage: while PostgreSQL is unreachable the
// api answers 503; Publish waits and retries with the same key until the
// event is accepted, and it is stored once.
func TestPublishRidesOutADatabaseOutage(t *testing.T) {
	t.Parallel()
	store, db, pg := dbtest.NewStoreBehindProxy(t)
	a := startAPIOn(t, store, db)
	key := a.mustWorkspace(t, "Acme")
	var waits []time.Duration
	c, rec := a.client(t, key, client.WithRetry(client.RetryPolicy{MaxAttempts: 100, BaseDelay: 20 * time.Millisecond, MaxDelay: 50 * time.Millisecond}),
		client.WithClock(time.Now, func(ctx context.Context, d time.Duration) error {
			if len(waits) == 0 {
				pg.Restore(t) // the database comes back during the first wait
			}
			waits = append(waits, d)
			return client.Sleep(ctx, 50*time.Millisecond) // not the 2s asked for
		}))
	pg.Cut()
	ev, err := c.Publish(context.Background(), "post.created", postCreated)
	if err != nil {
		t.Fatalf("Publish = %v after %d attempts", err, len(rec.all()))
	}
	exchanges := rec.all()
	if len(exchanges) < 2 || exchanges[0].Status != 503 || exchanges[len(exchanges)-1].Status != 202 {
		t.Fatalf("%d attempts, first %d, last %d; want 503s then 202", len(exchanges), exchanges[0].Status, exchanges[len(exchanges)-1].Status)
	}
	for i, ex := range exchanges {
		if ex.Header.Get("Idempotency-Key") != ev.IdempotencyKey {
			t.Errorf("attempt %d sent key %q, want %q", i+1, ex.Header.Get("Idempotency-Key"), ev.IdempotencyKey)
		}
	}
	if waits[0] != 2*time.Second {
		t.Errorf("first wait %v, want the Retry-After of 2s", waits[0])
	}
	var ids []string
	if err := db.Select(&ids, `SELECT id::text FROM events`); err != nil || !slices.Equal(ids, []string{ev.ID}) {
		t.Errorf("events stored %v (%v), want only %s", ids, err, ev.ID)
	}
}

// TestPublishKeys: a key is generated for each call, and sent on each of
// its attempts; a given key is sent as it is.
func TestPublishKeys(t *testing.T) {
	t.Parallel()
	s := newScript(t, unavailable, accepted, internal, accepted, rateLimited, accepted)
	c, _ := s.client(t, scriptOptions{})
	var results []client.Event
	for _, opts := range [][]client.PublishOption{nil, nil, {client.WithIdempotencyKey("post_1-created")}} {
		results = append(results, mustPublish(t, c, "post.created", postCreated, opts...))
	}
	var sent []string
	for _, r := range s.requests() {
		sent = append(sent, r.Header.Get("Idempotency-Key"))
	}
	want := []string{results[0].IdempotencyKey, results[0].IdempotencyKey, results[1].IdempotencyKey, results[1].IdempotencyKey, "post_1-created", "post_1-created"}
	if diff := cmp.Diff(want, sent); diff != "" {
		t.Errorf("keys sent (-want +got):\n%s", diff)
	}
	if results[0].IdempotencyKey == "" || results[0].IdempotencyKey == results[1].IdempotencyKey {
		t.Errorf("generated keys %q and %q, want two different ones", results[0].IdempotencyKey, results[1].IdempotencyKey)
	}
}

// TestPublishReplayed reads the Idempotent-Replayed header.
func TestPublishReplayed(t *testing.T) {
	t.Parallel()
	s := newScript(t, reply(202, `{"id":"0196f2a4-0000-7000-8000-000000000001","deliveries":2}`, "Idempotent-Replayed", "true"))
	c, _ := s.client(t, scriptOptions{})
	ev, err := c.Publish(context.Background(), "post.created", postCreated, client.WithIdempotencyKey("k"))
	want := client.Event{ID: "0196f2a4-0000-7000-8000-000000000001", Deliveries: 2, Replayed: true, IdempotencyKey: "k"}
	if diff := cmp.Diff(want, ev); err != nil || diff != "" {
		t.Errorf("Publish = %v (-want +got):\n%s", err, diff)
	}
}
