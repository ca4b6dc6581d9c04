package repo_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/repo"
)

// jsonHeaders compares an Attempt's header columns as JSON values, since jsonb
// does not keep the bytes it was given.
var jsonHeaders = cmp.FilterPath(func(p cmp.Path) bool {
	sf, ok := p.Last().(cmp.StructField)
	return ok && (sf.Name() == "ResponseHeaders" || sf.Name() == "RequestHeaders")
}, cmp.Transformer("json", func(b []byte) any {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "invalid JSON: " + string(b)
	}
	return v
}))

// counters is the part of a webhook recording attempts changes.
type counters struct {
	FailureCount        int64
	ConsecutiveFailures int
}

// wantRecorded checks how many attempts of the delivery are stored and the
// fixture's webhook's counters; when says after what.
func (f *hookFixture) wantRecorded(tb testing.TB, when, deliveryID string, attempts int, want counters) {
	tb.Helper()
	if got := len(f.mustAttempts(tb, deliveryID)); got != attempts {
		tb.Errorf("%s: attempts stored = %d, want %d", when, got, attempts)
	}
	h := f.health(tb, f.hook.ID)
	if diff := cmp.Diff(want, counters{h.FailureCount, h.ConsecutiveFailures}); diff != "" {
		tb.Errorf("%s: webhook counters (-want +got):\n%s", when, diff)
	}
}

func (f *fixture) mustAttempts(tb testing.TB, deliveryID string) []repo.Attempt {
	tb.Helper()
	as, err := f.store.Attempts(context.Background(), deliveryID)
	if err != nil {
		tb.Fatalf("Attempts: %v", err)
	}
	return as
}

func TestRecordAttemptLifecycle(t *testing.T) {
	t.Parallel()
	f := setupHook(t)
	ev := newEvent(f.ws.ID, "post.created")
	id := f.mustDelivery(t, ev)
	t0 := pgTime(time.Now())

	// Attempt 1: the receiver answers 500.
	f.record(t, repo.AttemptResult{
		DeliveryID: id, Attempt: 1, StatusCode: 500, ResponseBody: []byte("boom"),
		Error: "receiver answered 500 Internal Server Error", Duration: 15 * time.Millisecond, At: t0,
		NewStatus: delivery.StatusPending, NextAttemptAt: t0.Add(time.Minute),
		ResponseHeaders: map[string]string{"Content-Type": "text/plain", "Retry-After": "30"},
		RequestHeaders:  map[string]string{"X-Trackelio-Signature": "abc123", "webhook-id": id},
	})
	want := repo.Delivery{
		ID: id, EventID: ev.ID, EventType: "post.created", WebhookID: f.hook.ID,
		Status: delivery.StatusPending, Attempts: 1,
		StatusCode:    new(500),
		ResponseBody:  []byte("boom"),
		LastError:     new("receiver answered 500 Internal Server Error"),
		LastAttemptAt: new(t0),
		NextAttemptAt: new(t0.Add(time.Minute)),
		CreatedAt:     ev.CreatedAt,
	}
	if diff := cmp.Diff(want, f.mustGetDelivery(t, f.ws.ID, id)); diff != "" {
		t.Errorf("after attempt 1 (-want +got):\n%s", diff)
	}
	f.wantRecorded(t, "after a failure", id, 1, counters{1, 1})

	// Attempt 2: no response at all, and a truncated body is not possible
	// without one; the stored status code is cleared.
	t1 := t0.Add(time.Minute)
	f.record(t, repo.AttemptResult{
		DeliveryID: id, Attempt: 2, Error: "timed out after 10s", Duration: 10 * time.Second, At: t1,
		NewStatus: delivery.StatusPending, NextAttemptAt: t1.Add(5 * time.Minute),
	})
	f.wantRecorded(t, "after two failures", id, 2, counters{2, 2})

	// A stale attempt number (another worker already recorded attempt 2) and
	// a skipped one store nothing.
	for _, n := range []int{1, 2, 4} {
		f.recordStale(t, success(id, n, t1))
	}
	if d := f.mustGetDelivery(t, f.ws.ID, id); d.Status != delivery.StatusPending || d.Attempts != 2 {
		t.Errorf("stale attempts changed the delivery: status %s attempts %d", d.Status, d.Attempts)
	}
	f.wantRecorded(t, "after stale attempts", id, 2, counters{2, 2})

	// Attempt 3 succeeds with a truncated body.
	t2 := t1.Add(5 * time.Minute)
	f.record(t, repo.AttemptResult{
		DeliveryID: id, Attempt: 3, StatusCode: 204, ResponseBody: []byte("ok…"), ResponseTruncated: true,
		Duration: 3 * time.Millisecond, At: t2, Succeeded: true, NewStatus: delivery.StatusSucceeded,
		NextAttemptAt: t2.Add(time.Hour), // ignored for a finished delivery
	})
	want = repo.Delivery{
		ID: id, EventID: ev.ID, EventType: "post.created", WebhookID: f.hook.ID,
		Status: delivery.StatusSucceeded, Attempts: 3,
		StatusCode:        new(204),
		ResponseBody:      []byte("ok…"),
		ResponseTruncated: true,
		LastAttemptAt:     new(t2),
		FinishedAt:        new(t2),
		CreatedAt:         ev.CreatedAt,
	}
	if diff := cmp.Diff(want, f.mustGetDelivery(t, f.ws.ID, id)); diff != "" {
		t.Errorf("after success (-want +got):\n%s", diff)
	}
	f.wantRecorded(t, "after a success", id, 3, counters{2, 0})

	wantAttempts := []repo.Attempt{
		{Attempt: 1, StatusCode: new(500), ResponseBody: []byte("boom"),
			Error: new("receiver answered 500 Internal Server Error"), DurationMS: 15, CreatedAt: t0,
			ResponseHeaders: []byte(`{"Content-Type":"text/plain","Retry-After":"30"}`),
			RequestHeaders:  []byte(`{"X-Trackelio-Signature":"abc123","webhook-id":"` + id + `"}`)},
		{Attempt: 2, ResponseBody: []byte{}, ResponseHeaders: []byte(`{}`), RequestHeaders: []byte(`{}`), Error: new("timed out after 10s"), DurationMS: 10000, CreatedAt: t1},
		{Attempt: 3, StatusCode: new(204), ResponseBody: []byte("ok…"), ResponseTruncated: true, ResponseHeaders: []byte(`{}`), RequestHeaders: []byte(`{}`), DurationMS: 3, CreatedAt: t2},
	}
	if diff := cmp.Diff(wantAttempts, f.mustAttempts(t, id), jsonHeaders); diff != "" {
		t.Errorf("Attempts (-want +got):\n%s", diff)
	}

	// A finished delivery takes no more attempts.
	f.recordStale(t, repo.AttemptResult{
		DeliveryID: id, Attempt: 4, StatusCode: 500, Error: "late", At: t2, NewStatus: delivery.StatusPending, NextAttemptAt: t2,
	})
	f.wantRecorded(t, "after an attempt on a finished delivery", id, 3, counters{2, 0})
}

func TestRecordAttemptFailedAndCancelled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setupHook(t)

	failed := f.mustDelivery(t, newEvent(f.ws.ID, "post.created"))
	at := pgTime(time.Now())
	f.record(t, repo.AttemptResult{
		DeliveryID: failed, Attempt: 1, StatusCode: 503, Error: "receiver answered 503", At: at,
		NewStatus: delivery.StatusFailed, NextAttemptAt: at.Add(time.Hour),
	})
	d := f.mustGetDelivery(t, f.ws.ID, failed)
	type ended struct {
		Status     delivery.Status
		Next       *time.Time
		FinishedAt *time.Time
	}
	if diff := cmp.Diff(ended{delivery.StatusFailed, nil, &at}, ended{d.Status, d.NextAttemptAt, d.FinishedAt}); diff != "" {
		t.Errorf("failed delivery (-want +got):\n%s", diff)
	}
	f.wantRecorded(t, "after a last failure", failed, 1, counters{1, 1})
	f.recordStale(t, success(failed, 2, at))

	cancelled := f.mustDelivery(t, newEvent(f.ws.ID, "post.created"))
	if err := f.store.CancelDelivery(ctx, cancelled); err != nil {
		t.Fatalf("CancelDelivery: %v", err)
	}
	f.recordStale(t, success(cancelled, 1, at))
	if d := f.mustGetDelivery(t, f.ws.ID, cancelled); d.Status != delivery.StatusCancelled || d.Attempts != 0 {
		t.Errorf("cancelled delivery = status %s attempts %d, want cancelled with 0 attempts", d.Status, d.Attempts)
	}
	// The failure streak stays: the success above was not recorded.
	f.wantRecorded(t, "after a cancelled delivery's attempt", cancelled, 0, counters{1, 1})

	f.recordStale(t, repo.AttemptResult{DeliveryID: uuid.NewString(), Attempt: 1, At: at, NewStatus: delivery.StatusFailed})
}

func TestRecordAttemptConcurrentSameAttempt(t *testing.T) {
	t.Parallel()
	f := setupHook(t)
	id := f.mustDelivery(t, newEvent(f.ws.ID, "post.created"))

	// Workers that ran the same attempt after a lost lease race to record it.
	const workers = 5
	recorded := make([][]repo.Recorded, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			recorded[i], errs[i] = f.store.RecordAttempts(context.Background(), []repo.AttemptResult{{
				DeliveryID: id, Attempt: 1, StatusCode: 500, Error: "boom", At: pgTime(time.Now()),
				NewStatus: delivery.StatusPending, NextAttemptAt: time.Now().Add(time.Minute),
			}})
		})
	}
	wg.Wait()
	wins := 0
	for i := range workers {
		if errs[i] != nil {
			t.Fatalf("RecordAttempts %d: %v", i, errs[i])
		}
		if recorded[i][0].Stored {
			wins++
		}
	}
	if wins != 1 {
		t.Errorf("%d workers recorded attempt 1, want exactly 1", wins)
	}
	f.wantRecorded(t, "after the race", id, 1, counters{1, 1})
}

// TestRecordAttemptsBatch stores one batch holding attempts to two
// webhooks, a duplicate and a stale attempt, and checks each result and
// each webhook's counters.
func TestRecordAttemptsBatch(t *testing.T) {
	t.Parallel()
	f, ws, busy, flaky := setupTwoHooks(t)
	ctx := context.Background()
	var busyIDs, flakyIDs []string
	for range 3 {
		busyIDs = append(busyIDs, f.mustDelivery(t, newEvent(ws.ID, "a")))
		flakyIDs = append(flakyIDs, f.mustDelivery(t, newEvent(ws.ID, "b")))
	}
	t0 := pgTime(time.Now())
	ok := func(id string, at time.Duration) repo.AttemptResult { return success(id, 1, t0.Add(at)) }
	fail := func(id string, at time.Duration) repo.AttemptResult {
		r := failure(id, 1, t0.Add(at))
		r.AutoDisable = delivery.AutoDisable{MinFailures: 2}
		return r
	}
	stale := ok(busyIDs[2], 0)
	stale.Attempt = 3 // the delivery has made no attempt yet
	batch := []repo.AttemptResult{
		ok(busyIDs[0], time.Millisecond), fail(flakyIDs[0], 2*time.Millisecond), ok(busyIDs[1], 3*time.Millisecond),
		fail(flakyIDs[1], 4*time.Millisecond), // the second failure in a row disables (MinFailures 2)
		fail(flakyIDs[2], 5*time.Millisecond),
		ok(busyIDs[0], 6*time.Millisecond), // a duplicate of the first: another run of the same task
		stale,
	}
	got, err := f.store.RecordAttempts(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	want := []repo.Recorded{{Stored: true}, {Stored: true}, {Stored: true}, {Stored: true, Disabled: true}, {Stored: true}, {}, {}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if h := f.health(t, busy.ID); h.FailureCount != 0 || h.ConsecutiveFailures != 0 {
		t.Errorf("busy webhook counters = %d, %d; want none", h.FailureCount, h.ConsecutiveFailures)
	}
	wantFlaky := delivery.Health{FailureCount: 3, ConsecutiveFailures: 3, LastFailureAt: new(t0.Add(5 * time.Millisecond)),
		FailingSince: new(t0.Add(2 * time.Millisecond)), DisabledReason: "failing", DisabledAt: new(t0.Add(4 * time.Millisecond))}
	if diff := cmp.Diff(wantFlaky, f.health(t, flaky.ID)); diff != "" {
		t.Errorf("flaky webhook, disabled by its second failure (-want +got):\n%s", diff)
	}
	if n := f.mustCount(t, `SELECT count(*) FROM delivery_attempts`); n != 5 {
		t.Errorf("%d attempts stored, want 5", n)
	}

	// Successes within a second of the stored last success leave the busy
	// webhook's row alone: its row version does not move.
	var before, after string
	if err := f.db.Get(&before, `SELECT xmin::text FROM webhooks WHERE id = $1`, busy.ID); err != nil {
		t.Fatal(err)
	}
	fresh := f.mustDelivery(t, newEvent(ws.ID, "a"))
	f.record(t, ok(fresh, 500*time.Millisecond))
	if err := f.db.Get(&after, `SELECT xmin::text FROM webhooks WHERE id = $1`, busy.ID); err != nil {
		t.Fatal(err)
	}
	if before != after {
		t.Errorf("a success 0.5 s after the last one rewrote the webhook row")
	}
}
