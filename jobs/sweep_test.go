package jobs_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/queuetest"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/jobs"
	"github.com/trackelio/webhooks/repo"
)

// sweepFixture is a fixture with a sweep handler on its own Redis database.
type sweepFixture struct {
	*fixture
	client  *asynq.Client
	insp    *asynq.Inspector
	handler *jobs.SweepHandler
}

func setupSweep(tb testing.TB) *sweepFixture {
	tb.Helper()
	f := setup(tb)
	redisOpt := newRedis(tb)
	sf := &sweepFixture{fixture: f, client: queuetest.NewClient(tb, redisOpt), insp: queuetest.NewInspector(tb, redisOpt)}
	sf.handler = jobs.NewSweepHandler(f.store, sf.client, sf.insp, f.metrics, discardLog)
	return sf
}

// state is the asynq state of the task at queue/id, or "absent".
func (sf *sweepFixture) state(tb testing.TB, queue, id string) string {
	tb.Helper()
	if info := findTask(tb, sf.insp, queue, id); info != nil {
		return info.State.String()
	}
	return "absent"
}

// states is the state of each named delivery's first task.

func (sf *sweepFixture) states(tb testing.TB, ids map[string]string) map[string]string {
	tb.Helper()
	got := map[string]string{}
	for name, id := range ids {
		got[name] = sf.state(tb, jobs.QueueDeliveries, id)
	}
	return got
}

// enqueue puts the task of the delivery id's next attempt after attempts
// in Redis, due at (now when zero).
func (sf *sweepFixture) enqueue(tb testing.TB, id string, attempts int, at time.Time) {
	tb.Helper()
	task, err := jobs.NewDeliverTask(id, attempts, at)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := sf.client.EnqueueContext(context.Background(), task); err != nil {
		tb.Fatalf("enqueue %s: %v", id, err)
	}
}

func (sf *sweepFixture) sweep(tb testing.TB, grace time.Duration) {
	tb.Helper()
	if err := sf.handler.ProcessTask(context.Background(), mustSweepTask(tb, grace)); err != nil {
		tb.Fatalf("sweep: %v", err)
	}
}

func TestSweepRequeuesDeliveriesMissingFromRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sf := setupSweep(t)
	const grace = time.Minute
	now := time.Now()
	hourAgo := now.Add(-time.Hour)

	ids := map[string]string{
		"missing 1":            sf.mustDelivery(t, hourAgo),
		"missing 2":            sf.mustDelivery(t, hourAgo.Add(time.Second)),
		"missing 3":            sf.mustDelivery(t, now.Add(-2*grace)),
		"scheduled in redis":   sf.mustDelivery(t, hourAgo),
		"pending in redis":     sf.mustDelivery(t, hourAgo),
		"archived":             sf.mustDelivery(t, hourAgo),
		"within grace":         sf.mustDelivery(t, now.Add(-grace/2)),
		"due later":            sf.mustDelivery(t, now.Add(time.Hour)),
		"cancelled (finished)": sf.mustDelivery(t, hourAgo),
	}
	sf.enqueue(t, ids["scheduled in redis"], 0, now.Add(time.Hour))
	sf.enqueue(t, ids["pending in redis"], 0, time.Time{})
	sf.enqueue(t, ids["archived"], 0, time.Time{})
	if err := sf.insp.ArchiveTask(jobs.QueueDeliveries, ids["archived"]); err != nil {
		t.Fatalf("ArchiveTask: %v", err)
	}
	if err := sf.store.CancelDelivery(ctx, ids["cancelled (finished)"]); err != nil {
		t.Fatal(err)
	}

	sf.sweep(t, grace)

	want := map[string]string{
		"missing 1":            "pending",
		"missing 2":            "pending",
		"missing 3":            "pending",
		"scheduled in redis":   "scheduled",
		"pending in redis":     "pending",
		"archived":             "pending",
		"within grace":         "absent",
		"due later":            "absent",
		"cancelled (finished)": "absent",
	}
	if diff := cmp.Diff(want, sf.states(t, ids)); diff != "" {
		t.Errorf("task states after sweep (-want +got):\n%s", diff)
	}
	// Three missing and one archived were enqueued; conflicts do not count.
	if n := testutil.ToFloat64(sf.metrics.OutboxRequeued); n != 4 {
		t.Errorf("outbox requeued = %v, want 4", n)
	}

	// A duplicate tick finds everything in Redis.
	sf.sweep(t, grace)
	if diff := cmp.Diff(want, sf.states(t, ids)); diff != "" {
		t.Errorf("task states after a second sweep (-want +got):\n%s", diff)
	}
	if n := testutil.ToFloat64(sf.metrics.OutboxRequeued); n != 4 {
		t.Errorf("outbox requeued after a second sweep = %v, want still 4", n)
	}
}

func TestSweepSkipsWhileAnotherSweepHoldsTheLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sf := setupSweep(t)
	var ids []string
	for range 3 {
		ids = append(ids, sf.mustDelivery(t, time.Now().Add(-time.Hour)))
	}

	release := holdLock(t, sf.store.WithSweepLock)
	sf.sweep(t, time.Minute)
	for _, id := range ids {
		if s := sf.state(t, jobs.QueueDeliveries, id); s != "absent" {
			t.Errorf("delivery %s is %s in Redis while another sweep held the lock, want absent", id, s)
		}
	}
	if n := testutil.ToFloat64(sf.metrics.OutboxRequeued); n != 0 {
		t.Errorf("outbox requeued = %v, want 0", n)
	}
	release()

	// Two ticks racing: each delivery is enqueued once in total.
	var sweeps sync.WaitGroup
	for range 2 {
		sweeps.Go(func() {
			if err := sf.handler.ProcessTask(ctx, mustSweepTask(t, time.Minute)); err != nil {
				t.Errorf("sweep: %v", err)
			}
		})
	}
	sweeps.Wait()
	for _, id := range ids {
		if s := sf.state(t, jobs.QueueDeliveries, id); s != "pending" {
			t.Errorf("delivery %s is %s after the sweeps, want pending", id, s)
		}
	}
	if n := testutil.ToFloat64(sf.metrics.OutboxRequeued); n != 3 {
		t.Errorf("outbox requeued = %v, want 3", n)
	}
}

func TestSweepPagesThroughLargeBacklog(t *testing.T) {
	t.Parallel()
	sf := setupSweep(t)
	// More than one page of overdue deliveries.
	const n = 520
	base := time.Now().Add(-time.Hour)
	ids := make([]string, n)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				ids[i] = sf.mustDelivery(t, base.Add(time.Duration(i)*time.Millisecond))
			}
		})
	}
	wg.Wait()

	sf.sweep(t, time.Minute)

	if got := testutil.ToFloat64(sf.metrics.OutboxRequeued); got != n {
		t.Errorf("outbox requeued = %v, want %d", got, n)
	}
	info, err := sf.insp.GetQueueInfo(jobs.QueueDeliveries)
	if err != nil {
		t.Fatalf("GetQueueInfo: %v", err)
	}
	if info.Pending != n {
		t.Errorf("pending tasks = %d, want %d", info.Pending, n)
	}
	for _, i := range []int{0, 499, 500, n - 1} {
		if s := sf.state(t, jobs.QueueDeliveries, ids[i]); s != "pending" {
			t.Errorf("delivery %d is %s, want pending", i, s)
		}
	}
}

// TestSweepUsesTaskLocation: a delivery that has made attempts has its task
// on the retries queue under "<id>:<attempt>", and the sweep looks there.
func TestSweepUsesTaskLocation(t *testing.T) {
	t.Parallel()
	sf := setupSweep(t)
	hourAgo := time.Now().Add(-time.Hour)
	// retrying makes a delivery that failed attempts times and was due an hour ago.
	retrying := func(attempts int) string {
		id := sf.mustDelivery(t, hourAgo.Add(-time.Hour))
		for n := 1; n <= attempts; n++ {
			testfactory.Record(t, sf.store, repo.AttemptResult{
				DeliveryID: id, Attempt: n, StatusCode: 500, Error: "boom", At: hourAgo.Add(-time.Hour),
				NewStatus: delivery.StatusPending, NextAttemptAt: hourAgo,
			})
		}
		return id
	}
	missing := retrying(1)
	scheduled := retrying(2)
	archived := retrying(1)

	sf.enqueue(t, scheduled, 2, time.Now().Add(time.Hour))
	sf.enqueue(t, archived, 1, time.Time{})
	if err := sf.insp.ArchiveTask(jobs.QueueRetries, archived+":2"); err != nil {
		t.Fatalf("ArchiveTask: %v", err)
	}

	sf.sweep(t, time.Minute)

	got := map[string]string{
		"missing on retries":     sf.state(t, jobs.QueueRetries, missing+":2"),
		"missing on deliveries":  sf.state(t, jobs.QueueDeliveries, missing),
		"scheduled on retries":   sf.state(t, jobs.QueueRetries, scheduled+":3"),
		"archived on retries":    sf.state(t, jobs.QueueRetries, archived+":2"),
		"archived on deliveries": sf.state(t, jobs.QueueDeliveries, archived),
	}
	want := map[string]string{
		"missing on retries":     "pending",
		"missing on deliveries":  "absent",
		"scheduled on retries":   "scheduled",
		"archived on retries":    "pending",
		"archived on deliveries": "absent",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("task states after the sweep (-want +got):\n%s", diff)
	}
	if n := testutil.ToFloat64(sf.metrics.OutboxRequeued); n != 2 {
		t.Errorf("outbox requeued = %v, want 2 (the missing and the archived task)", n)
	}
}
