package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/queuetest"
	"github.com/trackelio/webhooks/internal/testclock"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testwait"
	"github.com/trackelio/webhooks/jobs"
	"github.com/trackelio/webhooks/metrics"
	"github.com/trackelio/webhooks/repo"
)

const month = 30 * 24 * time.Hour

func TestRetentionCutoff(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		period time.Duration
		want   time.Time
		ok     bool
	}{
		{0, time.Time{}, false},
		{-time.Hour, time.Time{}, false},
		{month, time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC), true},
		{14 * 24 * time.Hour, time.Date(2026, 4, 17, 12, 0, 0, 0, time.UTC), true},
	}
	for _, tt := range tests {
		got, ok := jobs.RetentionCutoff(now, tt.period)
		if !got.Equal(tt.want) || ok != tt.ok {
			t.Errorf("RetentionCutoff(%v, %v) = %v, %v; want %v, %v", now, tt.period, got, ok, tt.want, tt.ok)
		}
	}
}

// retentionFixture is a fixture with history in every state a delivery
// ends in, one pending delivery, and an event nobody subscribed to, all
// made now through the store; its handlers read the time from clock.
type retentionFixture struct {
	*fixture
	ids   map[string]string // name → delivery id
	clock *testclock.Clock
}

// allHistory is what setupRetention makes: its deliveries by name, with
// their attempts.
var allHistory = map[string]int{"succeeded": 1, "failed": 2, "cancelled": 0, "pending": 1}

// setupRetention makes the history now, with a clock that reads later than
// now by age.
func setupRetention(tb testing.TB, age time.Duration) *retentionFixture {
	tb.Helper()
	ctx := context.Background()
	rf := &retentionFixture{fixture: setup(tb), ids: map[string]string{}}
	now := time.Now()
	record := func(id string, attempt int, status delivery.Status) {
		tb.Helper()
		r := repo.AttemptResult{DeliveryID: id, Attempt: attempt, StatusCode: 500, Error: "500", At: now, NewStatus: status}
		switch status {
		case delivery.StatusSucceeded:
			r.StatusCode, r.Error, r.Succeeded = 200, "", true
		case delivery.StatusPending:
			r.NextAttemptAt = now.Add(time.Minute)
		}
		testfactory.Record(tb, rf.store, r)
	}
	rf.ids["succeeded"] = rf.mustDelivery(tb, now)
	record(rf.ids["succeeded"], 1, delivery.StatusSucceeded)
	rf.ids["failed"] = rf.mustDelivery(tb, now)
	record(rf.ids["failed"], 1, delivery.StatusPending)
	record(rf.ids["failed"], 2, delivery.StatusFailed)
	rf.ids["cancelled"] = rf.mustDelivery(tb, now)
	if err := rf.store.CancelDelivery(ctx, rf.ids["cancelled"]); err != nil {
		tb.Fatal(err)
	}
	rf.ids["pending"] = rf.mustDelivery(tb, now)
	record(rf.ids["pending"], 1, delivery.StatusPending)
	id := uuid.NewString()
	acc, err := rf.store.CreateEvent(ctx, repo.NewEvent{ID: id, WorkspaceID: rf.ws.ID, Type: "comment.created",
		Body: fmt.Appendf(nil, `{"id":%q}`, id), CreatedAt: now})
	if err != nil || len(acc.DeliveryIDs) != 0 {
		tb.Fatalf("CreateEvent without subscribers = %+v, %v", acc, err)
	}
	rf.clock = testclock.New(time.Now().Add(age))
	return rf
}

// left is each delivery left, by name with its number of attempts, and
// the number of events left.
func (rf *retentionFixture) left(tb testing.TB) (map[string]int, int) {
	tb.Helper()
	deliveries := map[string]int{}
	for name, id := range rf.ids {
		if _, err := rf.store.Delivery(context.Background(), rf.ws.ID, id); errors.Is(err, repo.ErrNotFound) {
			continue
		} else if err != nil {
			tb.Fatalf("Delivery %s: %v", name, err)
		}
		deliveries[name] = len(rf.mustAttempts(tb, id))
	}
	var events int
	if err := rf.db.Get(&events, `SELECT count(*) FROM events`); err != nil {
		tb.Fatal(err)
	}
	return deliveries, events
}

// wantLeft checks that the deliveries left, by name with their attempts,
// and the number of events left are as wanted after the step named.
func (rf *retentionFixture) wantLeft(tb testing.TB, deliveries map[string]int, events int, after string) {
	tb.Helper()
	gotDeliveries, gotEvents := rf.left(tb)
	if diff := cmp.Diff([]any{deliveries, events}, []any{gotDeliveries, gotEvents}); diff != "" {
		tb.Errorf("left %s (-want +got):\n%s", after, diff)
	}
}

// deleted reads trackelio_retention_deleted_total per table.
func deleted(m *metrics.Metrics) map[string]float64 {
	out := map[string]float64{}
	for _, table := range metrics.RetentionTables {
		out[table] = testutil.ToFloat64(m.RetentionDeleted.WithLabelValues(table))
	}
	return out
}

func counted(deliveries, attempts, events float64) map[string]float64 {
	// These tests decide no notices: none is counted as deleted.
	return map[string]float64{metrics.TableDeliveries: deliveries, metrics.TableAttempts: attempts, metrics.TableEvents: events, metrics.TableNotices: 0}
}

// wantCounted checks the rows counted as deleted, per table, after the
// step named.
func (rf *retentionFixture) wantCounted(tb testing.TB, deliveries, attempts, events float64, after string) {
	tb.Helper()
	if diff := cmp.Diff(counted(deliveries, attempts, events), deleted(rf.metrics)); diff != "" {
		tb.Errorf("counted %s (-want +got):\n%s", after, diff)
	}
}

func mustRetentionTask(tb testing.TB, period time.Duration) *asynq.Task {
	tb.Helper()
	task, err := jobs.NewRetentionTask(period)
	if err != nil {
		tb.Fatalf("NewRetentionTask: %v", err)
	}
	return task
}

// handler is a retention handler on the fixture's store, metrics and clock.
func (rf *retentionFixture) handler() *jobs.RetentionHandler {
	return jobs.NewRetentionHandler(jobs.RetentionConfig{
		Store: rf.store, Metrics: rf.metrics, Log: discardLog, Now: rf.clock.Now, BatchSize: 2,
	})
}

// retain runs h on a retention task for period; the run must succeed.
func retain(tb testing.TB, h *jobs.RetentionHandler, period time.Duration) {
	tb.Helper()
	if err := h.ProcessTask(context.Background(), mustRetentionTask(tb, period)); err != nil {
		tb.Fatalf("retention: %v", err)
	}
}

func TestRetentionDeletesFinishedHistory(t *testing.T) {
	t.Parallel()
	rf := setupRetention(t, 0)
	h := rf.handler()

	// Everything is recent: nothing goes, and the series read 0.
	retain(t, h, month)
	rf.wantLeft(t, allHistory, 5, "by a run over recent history")
	rf.wantCounted(t, 0, 0, 0, "by a run over recent history")

	// A month and an hour later the finished deliveries, their attempts
	// and their events are gone, and so is the event nobody subscribed to;
	// the pending delivery stays with its attempt and its event.
	rf.clock.Advance(month + time.Hour)
	retain(t, h, month)
	rf.wantLeft(t, map[string]int{"pending": 1}, 1, "a month later")
	rf.wantCounted(t, 3, 3, 4, "a month later")

	// A duplicate tick deletes and counts nothing more.
	retain(t, h, month)
	rf.wantCounted(t, 3, 3, 4, "after a duplicate tick")
	if n := testutil.ToFloat64(rf.metrics.TaskErrors.WithLabelValues(jobs.TypeRetention)); n != 0 {
		t.Errorf("task errors = %v, want 0", n)
	}
}

func TestRetentionPeriodZeroKeepsEverything(t *testing.T) {
	t.Parallel()
	rf := setupRetention(t, 10*365*24*time.Hour)
	retain(t, rf.handler(), 0)
	rf.wantLeft(t, allHistory, 5, "with period 0")
	rf.wantCounted(t, 0, 0, 0, "with period 0")
}

func TestRetentionSkipsWhileAnotherRunHoldsTheLock(t *testing.T) {
	t.Parallel()
	rf := setupRetention(t, month+time.Hour)
	h := rf.handler()

	release := holdLock(t, rf.store.WithRetentionLock)
	if err := h.ProcessTask(context.Background(), mustRetentionTask(t, month)); err != nil {
		t.Errorf("retention while another run holds the lock = %v, want nil", err)
	}
	if deliveries, _ := rf.left(t); len(deliveries) != 4 {
		t.Errorf("deliveries left while another run holds the lock = %v, want all four", deliveries)
	}
	release()

	retain(t, h, month)
	rf.wantCounted(t, 3, 3, 4, "after the lock was released")
}

// TestRetentionStopsAtItsBudget: a run out of time stops between batches
// (or in one, which rolls back), succeeds, and counts what it committed;
// the next run deletes the rest.
func TestRetentionStopsAtItsBudget(t *testing.T) {
	t.Parallel()
	rf := setupRetention(t, month+time.Hour)
	short := jobs.NewRetentionHandler(jobs.RetentionConfig{
		Store: rf.store, Metrics: rf.metrics, Log: discardLog, Now: rf.clock.Now, BatchSize: 1, Budget: time.Nanosecond,
	})
	if err := short.ProcessTask(context.Background(), mustRetentionTask(t, month)); err != nil {
		t.Fatalf("retention out of budget = %v, want nil", err)
	}
	// Three finished deliveries need three batches of one; a nanosecond
	// is not enough for the first round trip.
	deliveries, _ := rf.left(t)
	gone := deleted(rf.metrics)[metrics.TableDeliveries]
	if len(deliveries) < 3 || float64(4-len(deliveries)) != gone {
		t.Errorf("after a run out of budget: left %v, counted %v deleted; want at most one gone, and counted", deliveries, gone)
	}

	retain(t, rf.handler(), month)
	rf.wantCounted(t, 3, 3, 4, "after the next run")
}

func TestRetentionFailsWhenCancelled(t *testing.T) {
	t.Parallel()
	rf := setupRetention(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := rf.handler().ProcessTask(ctx, mustRetentionTask(t, month))
	if err == nil || errors.Is(err, asynq.SkipRetry) {
		t.Errorf("retention on a cancelled context = %v, want an error to retry on the next tick", err)
	}
}

// TestWorkerRunsRetention: a retention task enqueued as the scheduler does
// is run by a worker from the maintenance queue, on the real clock.
func TestWorkerRunsRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	redisOpt := newRedis(t)
	startWorker(t, f, redisOpt, delivery.RetryPolicy{Schedule: []time.Duration{time.Minute}})
	old := time.Now().Add(-month - time.Hour)
	id := f.mustDelivery(t, old)
	testfactory.Record(t, f.store, repo.AttemptResult{
		DeliveryID: id, Attempt: 1, StatusCode: 200, At: old, Succeeded: true, NewStatus: delivery.StatusSucceeded,
	})
	recent := f.mustDelivery(t, time.Now())
	info, err := queuetest.NewClient(t, redisOpt).EnqueueContext(ctx, mustRetentionTask(t, month))
	if err != nil {
		t.Fatalf("enqueue retention: %v", err)
	}
	if info.Queue != jobs.QueueMaintenance {
		t.Errorf("retention task queue = %q, want %q", info.Queue, jobs.QueueMaintenance)
	}
	testwait.For(t, 30*time.Second, "the worker to run retention and count what it deleted", func() bool {
		return cmp.Equal(counted(1, 1, 1), deleted(f.metrics))
	})
	var ids []string
	if err := f.db.Select(&ids, `SELECT id FROM deliveries`); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []string{recent}) {
		t.Errorf("deliveries left = %v, want only the recent one %s", ids, recent)
	}
}
