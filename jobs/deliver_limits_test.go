package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/endpointlimit"
	"github.com/trackelio/webhooks/internal/endpointlimit/endpointlimittest"
	"github.com/trackelio/webhooks/internal/redistest"
	"github.com/trackelio/webhooks/internal/sender"
	"github.com/trackelio/webhooks/internal/testwait"
	"github.com/trackelio/webhooks/jobs"
)

// limitsFixture is a fixture whose handlers have the in-flight cap and the
// breaker on a private Redis database.
type limitsFixture struct {
	*fixture
	limits *endpointlimit.Limits
}

func setupLimits(tb testing.TB, cfg endpointlimit.Config) *limitsFixture {
	tb.Helper()
	return &limitsFixture{fixture: setup(tb), limits: endpointlimittest.New(tb, redistest.NewClient(tb), cfg)}
}

// handler is the fixture's handler with the limits wired in, as the worker
// wires them.
func (f *limitsFixture) handler(tb testing.TB, p *fakeSender, pol delivery.RetryPolicy, set ...func(*jobs.DeliverConfig)) *jobs.DeliverHandler {
	tb.Helper()
	return f.fixture.handler(tb, p, pol, append(set, func(c *jobs.DeliverConfig) { c.Limits = f.limits })...)
}

func (f *limitsFixture) waits(reason string) float64 {
	return testutil.ToFloat64(f.metrics.Waits.WithLabelValues(reason))
}

// wantWait checks that err asks for a wait that is not a failed attempt.
func wantWait(tb testing.TB, err error, maxDelay time.Duration) *jobs.RetryAfterError {
	tb.Helper()
	var ra *jobs.RetryAfterError
	if !errors.As(err, &ra) {
		tb.Fatalf("ProcessTask = %v, want a *RetryAfterError", err)
	}
	if ra.Failure || jobs.IsFailure(err) || errors.Is(err, asynq.SkipRetry) {
		tb.Errorf("wait %+v counts as a failure; waiting is not one", ra)
	}
	if ra.Delay <= 0 || ra.Delay > maxDelay {
		tb.Errorf("wait delay = %v, want in (0, %v]", ra.Delay, maxDelay)
	}
	return ra
}

// slotTaken sets up a delivery to a webhook whose only slot is taken (by
// another task, or another worker), with a handler on a recording sender,
// and returns the slot's release.
func slotTaken(t *testing.T, cfg endpointlimit.Config) (f *limitsFixture, id string, p *fakeSender, h *jobs.DeliverHandler, release func()) {
	t.Helper()
	cfg.MaxInFlight, cfg.LeaseTTL = 1, time.Minute
	f = setupLimits(t, cfg)
	id = f.mustDelivery(t, time.Now())
	p = &fakeSender{}
	h = f.handler(t, p, policy)
	release, ok := endpointlimittest.MustAcquire(t, f.limits, f.hook.ID)
	if !ok {
		t.Fatal("Acquire refused")
	}
	return f, id, p, h, release
}

func TestDeliverInFlightCapFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, id, p, h, release := slotTaken(t, endpointlimit.Config{})
	// It waited in the worker until its run's context ended; the endpoint
	// never answered, so the task is away for the shortest time, a second
	// give or take 20 %.
	waitCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	ra := wantWait(t, h.ProcessTask(waitCtx, mustDeliverTask(t, id)), 1200*time.Millisecond)
	if ra.Delay < 800*time.Millisecond {
		t.Errorf("wait delay = %v, want at least 0.8 s", ra.Delay)
	}
	// Nothing was sent while the webhook was at its cap.
	p.wantSent(t, 0)
	f.wantStatus(t, id, delivery.StatusPending, 0)
	if n := f.waits("in_flight_cap"); n != 1 {
		t.Errorf("in_flight_cap waits = %v, want 1", n)
	}
	f.wantCounts(t, counts{})

	// Once the slot is free the attempt is made, and its slot released.
	release()
	if err := h.ProcessTask(ctx, mustDeliverTask(t, id)); err != nil {
		t.Fatalf("ProcessTask with a free slot = %v", err)
	}
	p.wantSent(t, 1)
	if _, ok := endpointlimittest.MustAcquire(t, f.limits, f.hook.ID); !ok {
		t.Error("the handler kept its slot after the attempt")
	}
}

// TestDeliverWaitsInTheWorkerForASlot: a task whose webhook is at its limit
// waits in the worker and makes its attempt as soon as the slot is free,
// without going back to the queue.
func TestDeliverWaitsInTheWorkerForASlot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, id, p, h, release := slotTaken(t, endpointlimit.Config{MaxWait: time.Minute})
	done := make(chan error)
	go func() { done <- h.ProcessTask(ctx, mustDeliverTask(t, id)) }()
	testwait.For(t, 5*time.Second, "the task to wait for the slot", func() bool { return f.limits.Stats().Waiting == 1 })
	if n := len(p.requests()); n != 0 {
		t.Fatalf("sender called %d times while the slot was taken", n)
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("ProcessTask = %v, want the attempt made once the slot was free", err)
	}
	p.wantSent(t, 1)
	if n := f.waits("in_flight_cap"); n != 0 {
		t.Errorf("in_flight_cap waits = %v, want 0: the task never went back to the queue", n)
	}
	if st := f.limits.Stats(); st.Running != 0 || st.Waiting != 0 {
		t.Errorf("after the attempt: %+v, want nothing running or waiting", st)
	}
}

func TestDeliverReleasesSlotAfterFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setupLimits(t, endpointlimit.Config{MaxInFlight: 1, LeaseTTL: time.Minute})
	p := failingSender(500)
	h := f.handler(t, p, policy)
	for i := range 3 {
		id := f.mustDelivery(t, time.Now())
		if err := h.ProcessTask(ctx, mustDeliverTask(t, id)); !isFailedAttempt(err) {
			t.Fatalf("delivery %d: ProcessTask = %v, want a failed attempt", i, err)
		}
	}
	// Each failed attempt must release its slot.
	p.wantSent(t, 3)
}

// A test event checks an endpoint now: it goes through an open breaker and
// to a webhook that was disabled (to check a fix before re-enabling it),
// gets one attempt, and leaves the webhook's health as it was.
func TestDeliverTestEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setupLimits(t, endpointlimit.Config{MaxInFlight: 10, LeaseTTL: time.Minute, BreakerThreshold: 2, ProbeInterval: time.Hour})
	failing := failingSender(500)
	var retried sync.Map // delivery ids with a retry task
	enq := &fakeEnqueuer{EnqueueContextFunc: func(_ context.Context, task *asynq.Task, _ ...asynq.Option) (*asynq.TaskInfo, error) {
		var p jobs.DeliverPayload
		if err := json.Unmarshal(task.Payload(), &p); err != nil {
			t.Errorf("retry task payload %q: %v", task.Payload(), err)
		}
		retried.Store(p.DeliveryID, true)
		return &asynq.TaskInfo{}, nil
	}}
	h := f.handler(t, failing, policy, retriesVia(enq), autoDisable(delivery.AutoDisable{MinFailures: 3}))

	// Three failures open the breaker and disable the webhook.
	for range 3 {
		id := f.mustDelivery(t, time.Now())
		if err := h.ProcessTask(ctx, mustDeliverTask(t, id)); err != nil {
			t.Fatalf("ProcessTask = %v, want nil with the retry scheduled", err)
		}
		if _, ok := retried.Load(id); !ok {
			t.Fatalf("a failed delivery got no retry task")
		}
	}
	before, err := f.store.Webhook(ctx, f.ws.ID, f.hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	if before.Active || before.ConsecutiveFailures != 3 {
		t.Fatalf("webhook active %v after %d failures; want disabled after 3", before.Active, before.ConsecutiveFailures)
	}

	for _, answer := range []sender.Result{
		{Outcome: delivery.HTTPError, StatusCode: 410, Error: "receiver answered 410 Gone"},
		{Outcome: delivery.Success, StatusCode: 200},
	} {
		failing.SendFunc = func(context.Context, sender.Request) sender.Result { return answer }
		id := f.mustTestDelivery(t)
		err := h.ProcessTask(ctx, mustDeliverTask(t, id))
		d := f.mustGetDelivery(t, id)
		switch answer.Outcome {
		case delivery.Success:
			if err != nil || d.Status != delivery.StatusSucceeded {
				t.Errorf("a test answered 200: ProcessTask = %v, delivery %s; want nil, succeeded", err, d.Status)
			}
		default:
			if !errors.Is(err, asynq.SkipRetry) || d.Status != delivery.StatusFailed || d.NextAttemptAt != nil {
				t.Errorf("a test answered %d: ProcessTask = %v, delivery %s (next %v); want failed without a retry", answer.StatusCode, err, d.Status, d.NextAttemptAt)
			}
		}
		if _, ok := retried.Load(id); ok || d.Attempts != 1 {
			t.Errorf("the test delivery made %d attempts (retry task: %v), want 1 and none", d.Attempts, ok)
		}
		after, err := f.store.Webhook(ctx, f.ws.ID, f.hook.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("a test answered %d changed the webhook (-before +after):\n%s", answer.StatusCode, diff)
		}
	}
	failing.wantSent(t, 5) // three deliveries and two tests
}

func TestDeliverBreaker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const interval = 300 * time.Millisecond
	f := setupLimits(t, endpointlimit.Config{MaxInFlight: 10, LeaseTTL: time.Minute, BreakerThreshold: 2, ProbeInterval: interval})
	failing := failingSender(503)
	h := f.handler(t, failing, policy)

	// Two failures open the breaker.
	for range 2 {
		id := f.mustDelivery(t, time.Now())
		if err := h.ProcessTask(ctx, mustDeliverTask(t, id)); !isFailedAttempt(err) {
			t.Fatalf("ProcessTask = %v, want a failed attempt", err)
		}
	}
	waiting := []string{f.mustDelivery(t, time.Now()), f.mustDelivery(t, time.Now()), f.mustDelivery(t, time.Now()), f.mustDelivery(t, time.Now())}

	// Four deliveries arrive at once: one probes, three wait.
	errs := make([]error, len(waiting))
	var wg sync.WaitGroup
	probed := time.Now()
	for i, id := range waiting {
		wg.Go(func() { errs[i] = h.ProcessTask(ctx, mustDeliverTask(t, id)) })
	}
	wg.Wait()
	if n := len(failing.requests()); n != 3 {
		t.Fatalf("sender called %d times, want 3: two before the breaker opened and one probe", n)
	}
	var prober string
	for i, err := range errs {
		if isFailedAttempt(err) {
			prober = waiting[i]
			continue
		}
		wantWait(t, err, interval+interval/10)
		if d := f.mustGetDelivery(t, waiting[i]); d.Attempts != 0 {
			t.Errorf("a waiting delivery made %d attempts", d.Attempts)
		}
	}
	if prober == "" {
		t.Fatalf("no delivery probed: %v", errs)
	}
	if n := f.waits("breaker_open"); n != 3 {
		t.Errorf("breaker_open waits = %v, want 3", n)
	}
	f.wantCounts(t, counts{Attempts: map[delivery.Outcome]float64{delivery.HTTPError: 3}})

	// The next probe goes ahead once the interval has passed; it succeeds
	// and closes the breaker, so the rest go at once.
	var rest []string
	for _, id := range waiting {
		if id != prober {
			rest = append(rest, id)
		}
	}
	ok := &fakeSender{}
	h = f.handler(t, ok, policy)
	testwait.For(t, 5*time.Second, "the next probe", func() bool {
		err := h.ProcessTask(ctx, mustDeliverTask(t, rest[0]))
		if err != nil {
			wantWait(t, err, interval+interval/10)
		}
		return err == nil
	})
	if waited := time.Since(probed); waited < interval-50*time.Millisecond {
		t.Errorf("the second probe came %v after the first, before ProbeInterval %v", waited, interval)
	}
	for _, id := range rest[1:] {
		processOK(t, h, id)
	}
	ok.wantSent(t, len(rest)) // all of them, once the breaker closed
}
