package repo_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/repo"
)

func TestCreateEventFansOutToMatchingWebhooks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, ws, other := setupWorkspaces(t)

	subscribed := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created", "post.deleted"}, Active: true})
	alsoSubscribed := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"comment.created", "post.created"}, Active: true})
	otherType := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.deleted"}, Active: true})
	inactive := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: false})
	deleted := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
	if err := f.store.DeleteWebhook(ctx, ws.ID, deleted.ID); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	otherWorkspace := f.mustWebhook(t, other.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})

	ev := newEvent(ws.ID, "post.created")
	ev.CreatedAt = pgTime(time.Now().Add(-time.Minute))
	acc := f.mustEvent(t, ev)

	if acc.EventID != ev.ID || acc.Replayed || acc.DeliveryCount != 2 || len(acc.DeliveryIDs) != 2 {
		t.Fatalf("CreateEvent = %+v, want event %s with 2 new deliveries", acc, ev.ID)
	}
	byWebhook := map[string]int{}
	works, err := f.store.Works(ctx, acc.DeliveryIDs)
	if err != nil || len(works) != len(acc.DeliveryIDs) {
		t.Fatalf("Works = %d of %d deliveries, %v", len(works), len(acc.DeliveryIDs), err)
	}
	for _, w := range works {
		if string(w.Body) != string(ev.Body) {
			t.Errorf("stored body = %s, want %s", w.Body, ev.Body)
		}
	}
	for _, h := range []repo.Webhook{subscribed, alsoSubscribed, otherType, inactive, deleted, otherWorkspace} {
		ds, err := f.store.Deliveries(ctx, h.WorkspaceID, h.ID, repo.DeliveryFilter{}, nil, 10)
		if err != nil {
			t.Fatalf("Deliveries: %v", err)
		}
		byWebhook[h.ID] = len(ds)
		for _, d := range ds {
			want := repo.Delivery{
				ID: d.ID, EventID: ev.ID, EventType: "post.created", WebhookID: h.ID,
				Status: delivery.StatusPending, ResponseBody: []byte{},
				NextAttemptAt: &ev.CreatedAt,
				CreatedAt:     ev.CreatedAt,
			}
			if diff := cmp.Diff(want, d); diff != "" {
				t.Errorf("new delivery mismatch (-want +got):\n%s", diff)
			}
		}
	}
	want := map[string]int{
		subscribed.ID: 1, alsoSubscribed.ID: 1, otherType.ID: 0, inactive.ID: 0, deleted.ID: 0, otherWorkspace.ID: 0,
	}
	if diff := cmp.Diff(want, byWebhook); diff != "" {
		t.Errorf("deliveries per webhook (-want +got):\n%s", diff)
	}
}

func TestCreateEventWithoutSubscribers(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.deleted"}, Active: true})

	ev := newEvent(ws.ID, "post.created")
	acc := f.mustEvent(t, ev)

	if diff := cmp.Diff(repo.AcceptedEvent{EventID: ev.ID, DeliveryIDs: []string{}}, acc); diff != "" {
		t.Errorf("CreateEvent mismatch (-want +got):\n%s", diff)
	}
	if n := f.mustCount(t, `SELECT count(*) FROM events WHERE id = $1`, ev.ID); n != 1 {
		t.Errorf("events stored = %d, want 1", n)
	}
}

func TestCreateEventIdempotencyReplay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, ws, other := setupWorkspaces(t)
	for range 2 {
		f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
	}
	f.mustWebhook(t, other.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})

	first := newEvent(ws.ID, "post.created")
	first.IdempotencyKey = "key-1"
	acc := f.mustEvent(t, first)
	if acc.Replayed || acc.DeliveryCount != 2 {
		t.Fatalf("first CreateEvent = %+v, want 2 new deliveries", acc)
	}
	// A redelivery is a new run of the same event, not part of its fan-out.
	if _, err := f.store.Redeliver(ctx, ws.ID, acc.DeliveryIDs[0]); err != nil {
		t.Fatalf("Redeliver: %v", err)
	}

	again := newEvent(ws.ID, "post.created")
	again.IdempotencyKey = "key-1"
	replay := f.mustEvent(t, again)

	want := repo.AcceptedEvent{EventID: first.ID, Replayed: true, DeliveryCount: 2}
	if diff := cmp.Diff(want, replay); diff != "" {
		t.Errorf("replayed CreateEvent mismatch (-want +got):\n%s", diff)
	}
	if n := f.mustCount(t, `SELECT count(*) FROM events WHERE workspace_id = $1`, ws.ID); n != 1 {
		t.Errorf("events in workspace = %d, want 1", n)
	}
	if n := f.mustCount(t, `SELECT count(*) FROM deliveries WHERE workspace_id = $1`, ws.ID); n != 3 {
		t.Errorf("deliveries in workspace = %d, want 3 (2 fan-out + 1 redelivery)", n)
	}

	// Keys are scoped to the workspace.
	otherEv := newEvent(other.ID, "post.created")
	otherEv.IdempotencyKey = "key-1"
	otherAcc := f.mustEvent(t, otherEv)
	if otherAcc.Replayed || otherAcc.EventID != otherEv.ID || otherAcc.DeliveryCount != 1 {
		t.Errorf("same key in another workspace = %+v, want a new event with 1 delivery", otherAcc)
	}

	// Events without a key never collide.
	for range 2 {
		if acc := f.mustEvent(t, newEvent(ws.ID, "post.created")); acc.Replayed {
			t.Errorf("event without key was replayed: %+v", acc)
		}
	}
}

func TestCreateEventConcurrentSameKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	for range 3 {
		f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
	}

	const callers = 10
	results := make([]repo.AcceptedEvent, callers)
	errs := make([]error, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			ev := newEvent(ws.ID, "post.created")
			ev.IdempotencyKey = "same-key"
			<-start
			results[i], errs[i] = f.store.CreateEvent(ctx, ev)
		})
	}
	close(start)
	wg.Wait()

	var created []repo.AcceptedEvent
	for i, err := range errs {
		if err != nil {
			t.Fatalf("CreateEvent %d: %v", i, err)
		}
		if !results[i].Replayed {
			created = append(created, results[i])
		}
	}
	if len(created) != 1 {
		t.Fatalf("%d callers created an event, want exactly 1: %+v", len(created), results)
	}
	for i, r := range results {
		if r.EventID != created[0].EventID || r.DeliveryCount != 3 {
			t.Errorf("result %d = %+v, want event %s with 3 deliveries", i, r, created[0].EventID)
		}
	}
	if n := f.mustCount(t, `SELECT count(*) FROM events`); n != 1 {
		t.Errorf("events stored = %d, want 1", n)
	}
	if n := f.mustCount(t, `SELECT count(*) FROM deliveries`); n != 3 {
		t.Errorf("deliveries stored = %d, want 3", n)
	}
}

// keyedEvent is newEvent under an idempotency key, with the digest of its
// request (none when digest is empty).
func keyedEvent(workspaceID, key, digest string) repo.NewEvent {
	ev := newEvent(workspaceID, "post.created")
	ev.IdempotencyKey = key
	if digest != "" {
		ev.RequestDigest = []byte(digest)
	}
	return ev
}

// wantCreated checks what CreateEvent answered: acc, or a *KeyReusedError
// when reused is set.
func wantCreated(tb testing.TB, acc repo.AcceptedEvent, err error, want repo.AcceptedEvent, reused *repo.KeyReusedError) {
	tb.Helper()
	var got *repo.KeyReusedError
	if err != nil && !errors.As(err, &got) {
		tb.Fatalf("CreateEvent: %v", err)
	}
	if diff := cmp.Diff(reused, got); diff != "" {
		tb.Errorf("key reused error (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, acc); diff != "" {
		tb.Errorf("CreateEvent (-want +got):\n%s", diff)
	}
}

// TestCreateEventKeyReusedForAnotherEvent: a key sent again answers its
// first event only for the same request, the same digest; another request
// under it is refused and stores nothing. A request without a digest, or a
// key stored without one (before migration 0007), replays as before.
func TestCreateEventKeyReusedForAnotherEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setupHook(t)
	ws := f.ws
	first := keyedEvent(ws.ID, "k", "digest A")
	f.mustEvent(t, first)
	legacy := keyedEvent(ws.ID, "legacy", "")
	f.mustEvent(t, legacy)
	unkeyed := keyedEvent(ws.ID, "", "digest A")
	f.mustEvent(t, unkeyed)

	tests := []struct {
		name   string
		ev     repo.NewEvent
		want   repo.AcceptedEvent
		reused *repo.KeyReusedError
	}{
		{"the same request replays", keyedEvent(ws.ID, "k", "digest A"),
			repo.AcceptedEvent{EventID: first.ID, Replayed: true, DeliveryCount: 1}, nil},
		{"another request is refused", keyedEvent(ws.ID, "k", "digest B"),
			repo.AcceptedEvent{}, &repo.KeyReusedError{Key: "k", EventID: first.ID}},
		{"a request without a digest replays", keyedEvent(ws.ID, "k", ""),
			repo.AcceptedEvent{EventID: first.ID, Replayed: true, DeliveryCount: 1}, nil},
		{"a key stored without a digest replays any request", keyedEvent(ws.ID, "legacy", "digest B"),
			repo.AcceptedEvent{EventID: legacy.ID, Replayed: true, DeliveryCount: 1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.mustCounts(t)
			acc, err := f.store.CreateEvent(ctx, tt.ev)
			wantCreated(t, acc, err, tt.want, tt.reused)
			f.wantNothingStored(t, before)
		})
	}

	// The digest is kept with a key only.
	var digests []struct {
		ID     string `db:"id"`
		Digest []byte `db:"request_digest"`
	}
	if err := f.db.Select(&digests, `SELECT id::text AS id, request_digest FROM events ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	stored := map[string]string{}
	for _, d := range digests {
		stored[d.ID] = string(d.Digest)
	}
	if diff := cmp.Diff(map[string]string{first.ID: "digest A", legacy.ID: "", unkeyed.ID: ""}, stored); diff != "" {
		t.Errorf("stored digests (-want +got):\n%s", diff)
	}
}

// TestCreateEventKeyReusedInOneBatch: events of one batch under one key are
// judged as if they came one after another: the first is stored, a later
// same request replays it, a later different one is refused. Not parallel:
// waitQueued counts the callers of every batcher in the process.
func TestCreateEventKeyReusedInOneBatch(t *testing.T) {
	ctx := context.Background()
	f := setupHook(t)
	ws := f.ws

	// This transaction holds the key "blocker", so the batch of the event
	// under it waits: the events sent meanwhile queue up, in order, and go
	// as the next batch once the transaction rolls back.
	tx, err := f.db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // rolled back below
	if _, err := tx.Exec(`INSERT INTO events (id, workspace_id, type, body, idempotency_key, created_at)
		VALUES ($1, $2, 'post.created', '{}', 'blocker', now())`, uuid.NewString(), ws.ID); err != nil {
		t.Fatal(err)
	}
	evs := []repo.NewEvent{
		keyedEvent(ws.ID, "blocker", "digest A"),
		keyedEvent(ws.ID, "same", "digest A"),
		keyedEvent(ws.ID, "same", "digest A"),
		keyedEvent(ws.ID, "other", "digest A"),
		keyedEvent(ws.ID, "other", "digest B"),
	}
	accs, errs := make([]repo.AcceptedEvent, len(evs)), make([]error, len(evs))
	var wg sync.WaitGroup
	for i, ev := range evs {
		wg.Go(func() { accs[i], errs[i] = f.store.CreateEvent(ctx, ev) })
		if i == 0 {
			waitLockWaiters(t, f.db, "the key blocker", 1)
		}
		waitQueued(t, i+1)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	wantCreated(t, accs[1], errs[1], repo.AcceptedEvent{EventID: evs[1].ID, DeliveryIDs: accs[1].DeliveryIDs, DeliveryCount: 1}, nil)
	wantCreated(t, accs[2], errs[2], repo.AcceptedEvent{EventID: evs[1].ID, Replayed: true, DeliveryCount: 1}, nil)
	wantCreated(t, accs[3], errs[3], repo.AcceptedEvent{EventID: evs[3].ID, DeliveryIDs: accs[3].DeliveryIDs, DeliveryCount: 1}, nil)
	wantCreated(t, accs[4], errs[4], repo.AcceptedEvent{}, &repo.KeyReusedError{Key: "other", EventID: evs[3].ID})
	if n := f.mustCount(t, `SELECT count(*) FROM events`); n != 3 {
		t.Errorf("%d events stored, want 3 (blocker, same, other)", n)
	}
	// Stored by one transaction: the four went as one batch.
	if n := f.mustCount(t, `SELECT count(DISTINCT xmin::text) FROM events WHERE id = ANY ($1)`,
		pq.StringArray{evs[1].ID, evs[3].ID}); n != 1 {
		t.Errorf("the batch's events were stored by %d transactions, want 1", n)
	}
}

// waitQueued waits until n callers of CreateEvent wait for their batch:
// goroutines parked in batch.(*Batcher).Do. The queue has room, so they
// park there only once their event is queued.
func waitQueued(tb testing.TB, n int) {
	tb.Helper()
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(10 * time.Second)
	for {
		waiting := 0
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, " [select") && strings.Contains(g, "/internal/batch.(*Batcher[...]).Do(") {
				waiting++
			}
		}
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d callers wait for their batch, want %d", waiting, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCreateTestEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setupHook(t)
	ws, hook, other := f.ws, f.hook, f.mustWorkspace(t, "other")
	// A sibling subscribed to the test type still gets nothing.
	sibling := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created", "webhook.test"}, Active: true})

	ev := newEvent(ws.ID, "webhook.test")
	id, err := f.store.CreateTestEvent(ctx, ev, hook.ID)
	if err != nil {
		t.Fatalf("CreateTestEvent: %v", err)
	}
	want := repo.Delivery{
		ID: id, EventID: ev.ID, EventType: "webhook.test", WebhookID: hook.ID, Status: delivery.StatusPending,
		ResponseBody: []byte{}, NextAttemptAt: &ev.CreatedAt, CreatedAt: ev.CreatedAt,
	}
	if diff := cmp.Diff(want, f.mustGetDelivery(t, ws.ID, id)); diff != "" {
		t.Errorf("test delivery (-want +got):\n%s", diff)
	}
	if n := f.mustCount(t, `SELECT count(*) FROM deliveries WHERE event_id = $1`, ev.ID); n != 1 {
		t.Errorf("test event has %d deliveries, want 1", n)
	}
	if n := f.mustCount(t, `SELECT count(*) FROM deliveries WHERE webhook_id = $1`, sibling.ID); n != 0 {
		t.Errorf("sibling webhook got %d deliveries", n)
	}
	if work := testfactory.Work(t, f.store, id); string(work.Body) != string(ev.Body) {
		t.Errorf("Work body = %q; want the test event's body", work.Body)
	}

	deleted := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
	if err := f.store.DeleteWebhook(ctx, ws.ID, deleted.ID); err != nil {
		t.Fatal(err)
	}
	otherHook := f.mustWebhook(t, other.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
	before := f.mustCounts(t)
	for name, tc := range map[string]struct{ workspaceID, webhookID string }{
		"another workspace's webhook": {ws.ID, otherHook.ID},
		"a webhook from another key":  {other.ID, hook.ID},
		"a deleted webhook":           {ws.ID, deleted.ID},
		"an unknown webhook":          {ws.ID, uuid.NewString()},
	} {
		ev := newEvent(tc.workspaceID, "webhook.test")
		if _, err := f.store.CreateTestEvent(ctx, ev, tc.webhookID); !errors.Is(err, repo.ErrNotFound) {
			t.Errorf("CreateTestEvent for %s = %v, want ErrNotFound", name, err)
		}
	}
	f.wantNothingStored(t, before)
}

func TestEventBody(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	ws := f.mustWorkspace(t, "acme")
	ev := newEvent(ws.ID, "a")
	f.mustEvent(t, ev)
	got, err := f.store.EventBody(ctx, ws.ID, ev.ID)
	if err != nil || string(got) != string(ev.Body) {
		t.Errorf("EventBody = %q, %v; want %q", got, err, ev.Body)
	}
	if _, err := f.store.EventBody(ctx, f.mustWorkspace(t, "other").ID, ev.ID); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("another workspace's event: %v, want ErrNotFound", err)
	}
}
