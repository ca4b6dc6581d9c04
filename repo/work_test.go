package repo_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/trackelio/webhooks/delivery"
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

// counters is the part of a webhook RecordAttempt changes.
type counters struct {
	FailureCount        int64
	ConsecutiveFailures int
}

func (f *fixture) counters(tb testing.TB, webhookID string) counters {
	tb.Helper()
	w := f.mustWebhookRow(tb, webhookID)
	return counters{w.FailureCount, w.ConsecutiveFailures}
}

func (f *fixture) mustAttempts(tb testing.TB, deliveryID string) []repo.Attempt {
	tb.Helper()
	as, err := f.store.Attempts(context.Background(), deliveryID)
	if err != nil {
		tb.Fatalf("Attempts: %v", err)
	}
	return as
}

func (f *fixture) mustRecord(tb testing.TB, r repo.AttemptResult, want bool) {
	tb.Helper()
	got, err := f.store.RecordAttempt(context.Background(), r)
	if err != nil {
		tb.Fatalf("RecordAttempt(attempt %d): %v", r.Attempt, err)
	}
	if got.Stored != want {
		tb.Fatalf("RecordAttempt(attempt %d, %s) = %v, want %v", r.Attempt, r.NewStatus, got, want)
	}
}

func TestRecordAttemptLifecycle(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
	ev := newEvent(ws.ID, "post.created")
	id := f.mustDelivery(t, ev)
	t0 := pgTime(time.Now())

	// Attempt 1: the receiver answers 500.
	f.mustRecord(t, repo.AttemptResult{
		DeliveryID: id, Attempt: 1, StatusCode: 500, ResponseBody: []byte("boom"),
		Error: "receiver answered 500 Internal Server Error", Duration: 15 * time.Millisecond, At: t0,
		NewStatus: delivery.StatusPending, NextAttemptAt: t0.Add(time.Minute),
		ResponseHeaders: map[string]string{"Content-Type": "text/plain", "Retry-After": "30"},
		RequestHeaders:  map[string]string{"X-Trackelio-Signature": "abc123", "webhook-id": id},
	}, true)
	want := repo.Delivery{
		ID: id, EventID: ev.ID, EventType: "post.created", WebhookID: hook.ID,
		Status: delivery.StatusPending, Attempts: 1,
		StatusCode:    sql.NullInt32{Int32: 500, Valid: true},
		ResponseBody:  []byte("boom"),
		LastError:     sql.NullString{String: "receiver answered 500 Internal Server Error", Valid: true},
		LastAttemptAt: sql.NullTime{Time: t0, Valid: true},
		NextAttemptAt: sql.NullTime{Time: t0.Add(time.Minute), Valid: true},
		CreatedAt:     ev.CreatedAt,
	}
	if diff := cmp.Diff(want, f.mustGetDelivery(t, ws.ID, id)); diff != "" {
		t.Errorf("after attempt 1 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(counters{1, 1}, f.counters(t, hook.ID)); diff != "" {
		t.Errorf("webhook counters after a failure (-want +got):\n%s", diff)
	}

	// Attempt 2: no response at all, and a truncated body is not possible
	// without one; the stored status code is cleared.
	t1 := t0.Add(time.Minute)
	f.mustRecord(t, repo.AttemptResult{
		DeliveryID: id, Attempt: 2, Error: "timed out after 10s", Duration: 10 * time.Second, At: t1,
		NewStatus: delivery.StatusPending, NextAttemptAt: t1.Add(5 * time.Minute),
	}, true)
	if diff := cmp.Diff(counters{2, 2}, f.counters(t, hook.ID)); diff != "" {
		t.Errorf("webhook counters after two failures (-want +got):\n%s", diff)
	}

	// A stale attempt number (another worker already recorded attempt 2) and
	// a skipped one store nothing.
	for _, n := range []int{1, 2, 4} {
		f.mustRecord(t, repo.AttemptResult{
			DeliveryID: id, Attempt: n, StatusCode: 200, At: t1, Succeeded: true, NewStatus: delivery.StatusSucceeded,
		}, false)
	}
	if got := len(f.mustAttempts(t, id)); got != 2 {
		t.Errorf("attempts stored = %d, want 2", got)
	}
	if d := f.mustGetDelivery(t, ws.ID, id); d.Status != delivery.StatusPending || d.Attempts != 2 {
		t.Errorf("stale attempts changed the delivery: status %s attempts %d", d.Status, d.Attempts)
	}
	if diff := cmp.Diff(counters{2, 2}, f.counters(t, hook.ID)); diff != "" {
		t.Errorf("stale attempts changed webhook counters (-want +got):\n%s", diff)
	}

	// Attempt 3 succeeds with a truncated body.
	t2 := t1.Add(5 * time.Minute)
	f.mustRecord(t, repo.AttemptResult{
		DeliveryID: id, Attempt: 3, StatusCode: 204, ResponseBody: []byte("ok…"), ResponseTruncated: true,
		Duration: 3 * time.Millisecond, At: t2, Succeeded: true, NewStatus: delivery.StatusSucceeded,
		NextAttemptAt: t2.Add(time.Hour), // ignored for a finished delivery
	}, true)
	want = repo.Delivery{
		ID: id, EventID: ev.ID, EventType: "post.created", WebhookID: hook.ID,
		Status: delivery.StatusSucceeded, Attempts: 3,
		StatusCode:        sql.NullInt32{Int32: 204, Valid: true},
		ResponseBody:      []byte("ok…"),
		ResponseTruncated: true,
		LastAttemptAt:     sql.NullTime{Time: t2, Valid: true},
		FinishedAt:        sql.NullTime{Time: t2, Valid: true},
		CreatedAt:         ev.CreatedAt,
	}
	if diff := cmp.Diff(want, f.mustGetDelivery(t, ws.ID, id)); diff != "" {
		t.Errorf("after success (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(counters{2, 0}, f.counters(t, hook.ID)); diff != "" {
		t.Errorf("webhook counters after a success (-want +got):\n%s", diff)
	}

	wantAttempts := []repo.Attempt{
		{Attempt: 1, StatusCode: sql.NullInt32{Int32: 500, Valid: true}, ResponseBody: []byte("boom"),
			Error: sql.NullString{String: "receiver answered 500 Internal Server Error", Valid: true}, DurationMS: 15, CreatedAt: t0,
			ResponseHeaders: []byte(`{"Content-Type":"text/plain","Retry-After":"30"}`),
			RequestHeaders:  []byte(`{"X-Trackelio-Signature":"abc123","webhook-id":"` + id + `"}`)},
		{Attempt: 2, ResponseBody: []byte{}, ResponseHeaders: []byte(`{}`), RequestHeaders: []byte(`{}`), Error: sql.NullString{String: "timed out after 10s", Valid: true}, DurationMS: 10000, CreatedAt: t1},
		{Attempt: 3, StatusCode: sql.NullInt32{Int32: 204, Valid: true}, ResponseBody: []byte("ok…"), ResponseTruncated: true, ResponseHeaders: []byte(`{}`), RequestHeaders: []byte(`{}`), DurationMS: 3, CreatedAt: t2},
	}
	if diff := cmp.Diff(wantAttempts, f.mustAttempts(t, id), jsonHeaders); diff != "" {
		t.Errorf("Attempts (-want +got):\n%s", diff)
	}

	// A finished delivery takes no more attempts.
	f.mustRecord(t, repo.AttemptResult{
		DeliveryID: id, Attempt: 4, StatusCode: 500, Error: "late", At: t2, NewStatus: delivery.StatusPending, NextAttemptAt: t2,
	}, false)
	if got := len(f.mustAttempts(t, id)); got != 3 {
		t.Errorf("attempts stored after finish = %d, want 3", got)
	}
	if diff := cmp.Diff(counters{2, 0}, f.counters(t, hook.ID)); diff != "" {
		t.Errorf("attempt on a finished delivery changed webhook counters (-want +got):\n%s", diff)
	}
}

func TestRecordAttemptFailedAndCancelled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})

	failed := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
	at := pgTime(time.Now())
	f.mustRecord(t, repo.AttemptResult{
		DeliveryID: failed, Attempt: 1, StatusCode: 503, Error: "receiver answered 503", At: at,
		NewStatus: delivery.StatusFailed, NextAttemptAt: at.Add(time.Hour),
	}, true)
	d := f.mustGetDelivery(t, ws.ID, failed)
	got := struct {
		Status     delivery.Status
		Next       sql.NullTime
		FinishedAt sql.NullTime
	}{d.Status, d.NextAttemptAt, d.FinishedAt}
	want := struct {
		Status     delivery.Status
		Next       sql.NullTime
		FinishedAt sql.NullTime
	}{delivery.StatusFailed, sql.NullTime{}, sql.NullTime{Time: at, Valid: true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("failed delivery (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(counters{1, 1}, f.counters(t, hook.ID)); diff != "" {
		t.Errorf("webhook counters (-want +got):\n%s", diff)
	}
	f.mustRecord(t, repo.AttemptResult{
		DeliveryID: failed, Attempt: 2, StatusCode: 200, At: at, Succeeded: true, NewStatus: delivery.StatusSucceeded,
	}, false)

	cancelled := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
	if err := f.store.CancelDelivery(ctx, cancelled); err != nil {
		t.Fatalf("CancelDelivery: %v", err)
	}
	f.mustRecord(t, repo.AttemptResult{
		DeliveryID: cancelled, Attempt: 1, StatusCode: 200, At: at, Succeeded: true, NewStatus: delivery.StatusSucceeded,
	}, false)
	if d := f.mustGetDelivery(t, ws.ID, cancelled); d.Status != delivery.StatusCancelled || d.Attempts != 0 {
		t.Errorf("cancelled delivery = status %s attempts %d, want cancelled with 0 attempts", d.Status, d.Attempts)
	}
	// The failure streak stays: the success above was not recorded.
	if diff := cmp.Diff(counters{1, 1}, f.counters(t, hook.ID)); diff != "" {
		t.Errorf("webhook counters (-want +got):\n%s", diff)
	}

	unknown, err := f.store.RecordAttempt(ctx, repo.AttemptResult{
		DeliveryID: uuid.NewString(), Attempt: 1, At: at, NewStatus: delivery.StatusFailed,
	})
	if err != nil || unknown.Stored {
		t.Errorf("RecordAttempt on an unknown delivery = %v, %v; want false, nil", unknown, err)
	}
}

func TestRecordAttemptConcurrentSameAttempt(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
	id := f.mustDelivery(t, newEvent(ws.ID, "post.created"))

	// Workers that ran the same attempt after a lost lease race to record it.
	const workers = 5
	recorded := make([]repo.Recorded, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			recorded[i], errs[i] = f.store.RecordAttempt(context.Background(), repo.AttemptResult{
				DeliveryID: id, Attempt: 1, StatusCode: 500, Error: "boom", At: pgTime(time.Now()),
				NewStatus: delivery.StatusPending, NextAttemptAt: time.Now().Add(time.Minute),
			})
		})
	}
	wg.Wait()
	wins := 0
	for i := range workers {
		if errs[i] != nil {
			t.Errorf("RecordAttempt %d: %v", i, errs[i])
		}
		if recorded[i].Stored {
			wins++
		}
	}
	if wins != 1 {
		t.Errorf("%d workers recorded attempt 1, want exactly 1", wins)
	}
	if got := len(f.mustAttempts(t, id)); got != 1 {
		t.Errorf("attempts stored = %d, want 1", got)
	}
	if diff := cmp.Diff(counters{1, 1}, f.counters(t, hook.ID)); diff != "" {
		t.Errorf("webhook counters (-want +got):\n%s", diff)
	}
}

func TestCancelDeliveryLeavesFinishedAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
	id := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
	at := pgTime(time.Now().Add(-time.Hour))
	f.mustRecord(t, repo.AttemptResult{DeliveryID: id, Attempt: 1, StatusCode: 200, At: at, Succeeded: true, NewStatus: delivery.StatusSucceeded}, true)

	if err := f.store.CancelDelivery(ctx, id); err != nil {
		t.Fatalf("CancelDelivery: %v", err)
	}
	if d := f.mustGetDelivery(t, ws.ID, id); d.Status != delivery.StatusSucceeded || !d.FinishedAt.Time.Equal(at) {
		t.Errorf("CancelDelivery changed a finished delivery: status %s finished %v", d.Status, d.FinishedAt)
	}
}

func TestWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{URL: "https://example.test/in", Events: []string{"post.created"}, Active: true, Secret: "whsec_abc"})
	ev := newEvent(ws.ID, "post.created")
	id := f.mustDelivery(t, ev)

	want := repo.Work{
		DeliveryID: id, Status: delivery.StatusPending,
		NextAttemptAt: &ev.CreatedAt,
		EventType:     "post.created", EventCreatedAt: ev.CreatedAt, Body: ev.Body,
		WebhookID: hook.ID, WebhookURL: "https://example.test/in", Secret: "whsec_abc", WebhookActive: true,
	}
	w, err := f.store.Work(ctx, id)
	if err != nil {
		t.Fatalf("Work: %v", err)
	}
	if diff := cmp.Diff(want, w); diff != "" {
		t.Errorf("Work (-want +got):\n%s", diff)
	}

	if _, err := f.store.Work(ctx, uuid.NewString()); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("Work of unknown delivery = %v, want ErrNotFound", err)
	}

	active := false
	if _, err := f.store.UpdateWebhook(ctx, ws.ID, hook.ID, repo.WebhookPatch{Active: &active}); err != nil {
		t.Fatalf("UpdateWebhook: %v", err)
	}
	if w, err := f.store.Work(ctx, id); err != nil || w.WebhookActive || w.WebhookDeleted {
		t.Errorf("Work after deactivation = active %v deleted %v, %v; want inactive, not deleted", w.WebhookActive, w.WebhookDeleted, err)
	}
}

// TestRecordAttemptsBatch stores one batch holding attempts to two
// webhooks, a duplicate and a stale attempt, and checks each result and
// each webhook's counters.
func TestRecordAttemptsBatch(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	ws := f.mustWorkspace(t, "acme")
	busy := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"a"}, Active: true})
	flaky := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"b"}, Active: true})
	var busyIDs, flakyIDs []string
	for range 3 {
		busyIDs = append(busyIDs, f.mustDelivery(t, newEvent(ws.ID, "a")))
		flakyIDs = append(flakyIDs, f.mustDelivery(t, newEvent(ws.ID, "b")))
	}
	t0 := pgTime(time.Now())
	ok := func(id string, at time.Duration) repo.AttemptResult {
		return repo.AttemptResult{DeliveryID: id, Attempt: 1, StatusCode: 200, At: t0.Add(at), Succeeded: true, NewStatus: delivery.StatusSucceeded}
	}
	fail := func(id string, at time.Duration) repo.AttemptResult {
		return repo.AttemptResult{DeliveryID: id, Attempt: 1, StatusCode: 500, Error: "HTTP 500", At: t0.Add(at),
			NewStatus: delivery.StatusPending, NextAttemptAt: t0.Add(time.Hour), AutoDisable: delivery.AutoDisable{MinFailures: 2}}
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
	if diff := cmp.Diff(counters{0, 0}, f.counters(t, busy.ID)); diff != "" {
		t.Errorf("busy webhook counters (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(counters{3, 3}, f.counters(t, flaky.ID)); diff != "" {
		t.Errorf("flaky webhook counters (-want +got):\n%s", diff)
	}
	h, err := f.store.Webhook(ctx, ws.ID, flaky.ID)
	if err != nil || h.Active || h.DisabledReason.String != "failing" || !h.DisabledAt.Time.Equal(t0.Add(4*time.Millisecond)) {
		t.Errorf("flaky webhook: active %v reason %q at %v, %v; want disabled by the second failure", h.Active, h.DisabledReason.String, h.DisabledAt.Time, err)
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
	if _, err := f.store.RecordAttempts(ctx, []repo.AttemptResult{ok(fresh, 500*time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Get(&after, `SELECT xmin::text FROM webhooks WHERE id = $1`, busy.ID); err != nil {
		t.Fatal(err)
	}
	if before != after {
		t.Errorf("a success 0.5 s after the last one rewrote the webhook row")
	}
}
