package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/trackelio/webhooks/delivery"
	"github.com/trackelio/webhooks/internal/testenv"
	"github.com/trackelio/webhooks/jobs"
	"github.com/trackelio/webhooks/sender"
)

// newGoRedis returns a go-redis client on a private Redis database.
func newGoRedis(tb testing.TB) *redis.Client {
	tb.Helper()
	opt, err := redis.ParseURL(testenv.NewRedis(tb))
	if err != nil {
		tb.Fatalf("ParseURL: %v", err)
	}
	c := redis.NewClient(opt)
	tb.Cleanup(func() { c.Close() })
	return c
}

// dbSize is the number of keys in the client's database.
func dbSize(tb testing.TB, rdb *redis.Client) int64 {
	tb.Helper()
	n, err := rdb.DBSize(context.Background()).Result()
	if err != nil {
		tb.Fatalf("DBSIZE: %v", err)
	}
	return n
}

// newWebhookLimits builds a WebhookLimits that is closed when the test ends.
// Unless cfg says otherwise, the worker has 100 slots and a task waits only
// 10 ms for one, so a test learns at once that none is free.
func newWebhookLimits(tb testing.TB, rdb redis.UniversalClient, cfg jobs.WebhookLimitsConfig) *jobs.WebhookLimits {
	tb.Helper()
	if cfg.Slots == 0 {
		cfg.Slots = 100
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 10 * time.Millisecond
	}
	f := jobs.NewWebhookLimits(rdb, cfg)
	tb.Cleanup(f.Close)
	return f
}

// mustAcquire takes a slot for a task that gives up waiting for one after
// 50 ms.
func mustAcquire(tb testing.TB, f *jobs.WebhookLimits, webhookID string) (release func(), ok bool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r, retryIn, err := f.Acquire(ctx, webhookID)
	if err != nil {
		tb.Fatalf("Acquire(%s): %v", webhookID, err)
	}
	if r == nil {
		if retryIn < 800*time.Millisecond {
			tb.Fatalf("Acquire(%s) refused with a retry in %v; want at least 0.8 s, so the task is not fetched again and again", webhookID, retryIn)
		}
		return nil, false
	}
	// A quick, good answer.
	return func() { r(time.Millisecond, false) }, true
}

func mustBreakerWait(tb testing.TB, f *jobs.WebhookLimits, webhookID string, consecutiveFailures int) time.Duration {
	tb.Helper()
	wait, err := f.BreakerWait(context.Background(), webhookID, consecutiveFailures)
	if err != nil {
		tb.Fatalf("BreakerWait(%s, %d): %v", webhookID, consecutiveFailures, err)
	}
	return wait
}

func TestWebhookLimitsAcquireCapsInFlight(t *testing.T) {
	t.Parallel()
	rdb := newGoRedis(t)
	f := newWebhookLimits(t, rdb, jobs.WebhookLimitsConfig{MaxInFlight: 3, LeaseTTL: time.Minute})
	hook, other := uuid.NewString(), uuid.NewString()

	var releases []func()
	for i := range 3 {
		release, ok := mustAcquire(t, f, hook)
		if !ok {
			t.Fatalf("Acquire %d of 3 refused", i+1)
		}
		releases = append(releases, release)
	}
	if _, ok := mustAcquire(t, f, hook); ok {
		t.Fatal("a fourth slot was granted with MaxInFlight 3")
	}
	// Slots are per webhook.
	otherRelease, ok := mustAcquire(t, f, other)
	if !ok {
		t.Fatal("another webhook was refused a slot")
	}

	releases[0]()
	release, ok := mustAcquire(t, f, hook)
	if !ok {
		t.Fatal("a released slot was not granted again")
	}
	if _, ok := mustAcquire(t, f, hook); ok {
		t.Fatal("a fourth slot was granted after one release and one acquire")
	}
	// Releasing twice frees one slot, not two.
	releases[0]()
	if _, ok := mustAcquire(t, f, hook); ok {
		t.Fatal("releasing the same slot twice freed a second one")
	}

	for _, r := range append(releases[1:], release, otherRelease) {
		r()
	}
	// A worker that stops returns its shares.
	f.Close()
	if n := dbSize(t, rdb); n != 0 {
		t.Errorf("%d keys left in Redis after the worker stopped, want 0", n)
	}
}

func TestWebhookLimitsAcquireConcurrent(t *testing.T) {
	t.Parallel()
	f := newWebhookLimits(t, newGoRedis(t), jobs.WebhookLimitsConfig{MaxInFlight: 3, LeaseTTL: time.Minute})
	hook := uuid.NewString()
	const workers = 20
	granted := make([]bool, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			r, _, err := f.Acquire(ctx, hook)
			if err != nil {
				t.Errorf("Acquire: %v", err)
			}
			granted[i] = r != nil
		})
	}
	wg.Wait()
	n := 0
	for _, ok := range granted {
		if ok {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d of %d concurrent Acquire calls got a slot, want 3", n, workers)
	}
}

// TestWebhookLimitsSlotsExpire: a worker that dies mid-attempt never returns its
// share of the cap; the share frees itself after LeaseTTL for the other
// workers, and Redis is left clean.
func TestWebhookLimitsSlotsExpire(t *testing.T) {
	t.Parallel()
	const ttl = 500 * time.Millisecond
	rdb := newGoRedis(t)
	cfg := jobs.WebhookLimitsConfig{MaxInFlight: 1, LeaseTTL: ttl}
	dead, alive := jobs.NewWebhookLimits(rdb, jobs.WebhookLimitsConfig{MaxInFlight: 1, LeaseTTL: ttl, Slots: 1}), newWebhookLimits(t, rdb, cfg)
	hook := uuid.NewString()

	taken := time.Now()
	if _, ok := mustAcquire(t, dead, hook); !ok {
		t.Fatal("first Acquire refused")
	}
	jobs.Crash(dead)
	if _, ok := mustAcquire(t, alive, hook); ok {
		t.Fatal("another worker was granted a slot while the only one is held")
	}
	var release func()
	waitFor(t, 5*time.Second, "the dead worker's share to expire", func() bool {
		var ok bool
		release, ok = mustAcquire(t, alive, hook)
		return ok
	})
	if waited := time.Since(taken); waited < ttl-50*time.Millisecond {
		t.Errorf("the dead worker's share freed itself after %v, before LeaseTTL %v", waited, ttl)
	}
	// The live worker's attempt ends, and it returns its share when it
	// stops (as the worker does, after asynq's Shutdown has waited for the
	// running attempts).
	release()
	alive.Close()
	if n := dbSize(t, rdb); n != 0 {
		t.Errorf("%d keys left in Redis after the last worker stopped, want 0", n)
	}
}

// TestWebhookLimitsSharesTheCap: two workers busy on one webhook run at most
// the cap between them, and the second gets its even share once the
// first's attempts above that share have ended.
func TestWebhookLimitsSharesTheCap(t *testing.T) {
	t.Parallel()
	rdb := newGoRedis(t)
	cfg := jobs.WebhookLimitsConfig{MaxInFlight: 4, LeaseTTL: 300 * time.Millisecond}
	a, b := newWebhookLimits(t, rdb, cfg), newWebhookLimits(t, rdb, cfg)
	hook := uuid.NewString()
	var held []func()
	for range 4 {
		r, ok := mustAcquire(t, a, hook)
		if !ok {
			t.Fatal("the first worker was refused a slot of the cap")
		}
		held = append(held, r)
	}
	if _, ok := mustAcquire(t, b, hook); ok {
		t.Fatal("the second worker got a slot while the first holds the whole cap")
	}
	// The second's demand shrinks the first's share to an even 2 when it
	// renews, but its four attempts still run: they stay held, over three
	// lease periods (nine renewals), and the second gets nothing.
	for end := time.Now().Add(3 * cfg.LeaseTTL); time.Now().Before(end); {
		if _, ok := mustAcquire(t, b, hook); ok {
			t.Fatal("the second worker got a slot while the first still runs four attempts in a cap of 4")
		}
	}
	// Two attempts end: the second worker gets its even share, 2, and the
	// cap is full.
	held[0]()
	held[1]()
	got := 0
	waitFor(t, 5*time.Second, "the second worker's share of 2", func() bool {
		if _, ok := mustAcquire(t, b, hook); ok {
			got++
		}
		return got == 2
	})
	for name, f := range map[string]*jobs.WebhookLimits{"first": a, "second": b} {
		if _, ok := mustAcquire(t, f, hook); ok {
			t.Errorf("the %s worker got a fifth slot of a cap of 4", name)
		}
	}
}

// TestWebhookLimitsReleaseAfterCancel: the task's context is often done by the
// time the attempt ends; the slot is released all the same.
func TestWebhookLimitsReleaseAfterCancel(t *testing.T) {
	t.Parallel()
	f := newWebhookLimits(t, newGoRedis(t), jobs.WebhookLimitsConfig{MaxInFlight: 1, LeaseTTL: time.Minute})
	hook := uuid.NewString()
	ctx, cancel := context.WithCancel(context.Background())
	release, _, err := f.Acquire(ctx, hook)
	if err != nil || release == nil {
		t.Fatalf("Acquire = %v, %v", release != nil, err)
	}
	cancel()
	release(time.Millisecond, false)
	if _, ok := mustAcquire(t, f, hook); !ok {
		t.Error("the slot released after the context ended is still held")
	}
}

func TestWebhookLimitsBreakerWait(t *testing.T) {
	t.Parallel()
	const interval = 300 * time.Millisecond
	rdb := newGoRedis(t)
	f := newWebhookLimits(t, rdb, jobs.WebhookLimitsConfig{MaxInFlight: 1, LeaseTTL: time.Minute, BreakerThreshold: 3, ProbeInterval: interval})
	hook, other := uuid.NewString(), uuid.NewString()

	// Below the threshold every delivery goes ahead and Redis is not touched.
	for range 3 {
		if w := mustBreakerWait(t, f, hook, 2); w != 0 {
			t.Fatalf("Probe below the threshold = %v, want 0", w)
		}
	}
	if n := dbSize(t, rdb); n != 0 {
		t.Errorf("Probe below the threshold left %d keys in Redis", n)
	}

	probed := time.Now()
	if w := mustBreakerWait(t, f, hook, 3); w != 0 {
		t.Fatalf("first Probe at the threshold = %v, want 0 (the probe)", w)
	}
	for _, failures := range []int{3, 10, 1000} {
		w := mustBreakerWait(t, f, hook, failures)
		if w <= 0 || w > interval+interval/10 {
			t.Errorf("BreakerWait(%d failures) during the interval = %v, want a wait in (0, %v]", failures, w, interval+interval/10)
		}
	}
	if w := mustBreakerWait(t, f, other, 5); w != 0 {
		t.Errorf("Probe of another webhook = %v, want 0: breakers are per webhook", w)
	}
	if w := mustBreakerWait(t, f, hook, 0); w != 0 {
		t.Errorf("Probe after the streak ended = %v, want 0: the breaker is closed", w)
	}

	// The next probe is allowed once the interval has passed, not before.
	waitFor(t, 5*time.Second, "the next probe", func() bool { return mustBreakerWait(t, f, hook, 3) == 0 })
	if waited := time.Since(probed); waited < interval-50*time.Millisecond {
		t.Errorf("the next probe came %v after the last, before ProbeInterval %v", waited, interval)
	}
}

func TestWebhookLimitsBreakerWaitOff(t *testing.T) {
	t.Parallel()
	rdb := newGoRedis(t)
	f := newWebhookLimits(t, rdb, jobs.WebhookLimitsConfig{MaxInFlight: 1, LeaseTTL: time.Minute, ProbeInterval: time.Hour})
	hook := uuid.NewString()
	for range 3 {
		if w := mustBreakerWait(t, f, hook, 1000); w != 0 {
			t.Fatalf("Probe with BreakerThreshold 0 = %v, want 0", w)
		}
	}
	if n := dbSize(t, rdb); n != 0 {
		t.Errorf("Probe with the breaker off left %d keys in Redis", n)
	}
}

func TestWebhookLimitsBreakerWaitConcurrent(t *testing.T) {
	t.Parallel()
	f := newWebhookLimits(t, newGoRedis(t), jobs.WebhookLimitsConfig{MaxInFlight: 1, LeaseTTL: time.Minute, BreakerThreshold: 1, ProbeInterval: time.Minute})
	hook := uuid.NewString()
	const workers = 10
	waits := make([]time.Duration, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			w, err := f.BreakerWait(context.Background(), hook, 5)
			if err != nil {
				t.Errorf("Probe: %v", err)
			}
			waits[i] = w
		})
	}
	wg.Wait()
	probes := 0
	for _, w := range waits {
		if w == 0 {
			probes++
		}
	}
	if probes != 1 {
		t.Errorf("%d of %d concurrent Probe calls may go ahead, want 1 (waits %v)", probes, workers, waits)
	}
}

func TestWebhookLimitsRedisUnavailable(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	f := newWebhookLimits(t, rdb, jobs.WebhookLimitsConfig{MaxInFlight: 1, LeaseTTL: time.Minute, BreakerThreshold: 1, ProbeInterval: time.Minute})
	if release, _, err := f.Acquire(context.Background(), uuid.NewString()); err == nil || release != nil {
		t.Errorf("Acquire without Redis = %v, %v; want an error", release != nil, err)
	}
	if _, err := f.BreakerWait(context.Background(), uuid.NewString(), 5); err == nil {
		t.Error("Probe without Redis = nil error, want an error")
	}
}

// fairFixture is a fixture whose handler has the in-flight cap and the
// breaker on a private Redis database.
type fairFixture struct {
	*fixture
	fair *jobs.WebhookLimits
}

func setupFair(tb testing.TB, cfg jobs.WebhookLimitsConfig) *fairFixture {
	tb.Helper()
	return &fairFixture{fixture: setup(tb), fair: newWebhookLimits(tb, newGoRedis(tb), cfg)}
}

func (f *fairFixture) handler(tb testing.TB, p *fakeSender, pol delivery.RetryPolicy) *jobs.DeliverHandler {
	tb.Helper()
	return f.fixture.handler(tb, p, pol, func(c *jobs.DeliverConfig) { c.Limits = f.fair })
}

func (f *fairFixture) waits(reason string) float64 {
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
func slotTaken(t *testing.T, cfg jobs.WebhookLimitsConfig) (f *fairFixture, id string, p *fakeSender, h *jobs.DeliverHandler, release func()) {
	t.Helper()
	cfg.MaxInFlight, cfg.LeaseTTL = 1, time.Minute
	f = setupFair(t, cfg)
	id = f.mustDelivery(t, time.Now())
	p = &fakeSender{}
	h = f.handler(t, p, policy)
	release, ok := mustAcquire(t, f.fair, f.hook.ID)
	if !ok {
		t.Fatal("Acquire refused")
	}
	return f, id, p, h, release
}

func TestDeliverInFlightCapFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, id, p, h, release := slotTaken(t, jobs.WebhookLimitsConfig{})
	// It waited in the worker until its run's context ended; the endpoint
	// never answered, so the task is away for the shortest time, a second
	// give or take 20 %.
	waitCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	ra := wantWait(t, h.ProcessTask(waitCtx, mustDeliverTask(t, id)), 1200*time.Millisecond)
	if ra.Delay < 800*time.Millisecond {
		t.Errorf("wait delay = %v, want at least 0.8 s", ra.Delay)
	}
	if n := len(p.requests()); n != 0 {
		t.Errorf("sender called %d times while the webhook was at its cap", n)
	}
	if d := f.mustGetDelivery(t, id); d.Status != delivery.StatusPending || d.Attempts != 0 {
		t.Errorf("delivery = %s after %d attempts, want pending after 0", d.Status, d.Attempts)
	}
	if n := f.waits("in_flight_cap"); n != 1 {
		t.Errorf("in_flight_cap waits = %v, want 1", n)
	}
	f.wantCounts(t, counts{})

	// Once the slot is free the attempt is made, and its slot released.
	release()
	if err := h.ProcessTask(ctx, mustDeliverTask(t, id)); err != nil {
		t.Fatalf("ProcessTask with a free slot = %v", err)
	}
	if n := len(p.requests()); n != 1 {
		t.Errorf("sender called %d times, want 1", n)
	}
	if _, ok := mustAcquire(t, f.fair, f.hook.ID); !ok {
		t.Error("the handler kept its slot after the attempt")
	}
}

// TestDeliverWaitsInTheWorkerForASlot: a task whose webhook is at its limit
// waits in the worker and makes its attempt as soon as the slot is free,
// without going back to the queue.
func TestDeliverWaitsInTheWorkerForASlot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, id, p, h, release := slotTaken(t, jobs.WebhookLimitsConfig{MaxWait: time.Minute})
	done := make(chan error)
	go func() { done <- h.ProcessTask(ctx, mustDeliverTask(t, id)) }()
	waitFor(t, 5*time.Second, "the task to wait for the slot", func() bool { return f.fair.Stats().Waiting == 1 })
	if n := len(p.requests()); n != 0 {
		t.Fatalf("sender called %d times while the slot was taken", n)
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("ProcessTask = %v, want the attempt made once the slot was free", err)
	}
	if n := len(p.requests()); n != 1 {
		t.Errorf("sender called %d times, want 1", n)
	}
	if n := f.waits("in_flight_cap"); n != 0 {
		t.Errorf("in_flight_cap waits = %v, want 0: the task never went back to the queue", n)
	}
	if st := f.fair.Stats(); st.Running != 0 || st.Waiting != 0 {
		t.Errorf("after the attempt: %+v, want nothing running or waiting", st)
	}
}

func TestDeliverReleasesSlotAfterFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setupFair(t, jobs.WebhookLimitsConfig{MaxInFlight: 1, LeaseTTL: time.Minute})
	p := &fakeSender{SendFunc: answer(sender.Result{Outcome: delivery.HTTPError, StatusCode: 500, Error: "receiver answered 500"})}
	h := f.handler(t, p, policy)
	for i := range 3 {
		id := f.mustDelivery(t, time.Now())
		var ra *jobs.RetryAfterError
		if err := h.ProcessTask(ctx, mustDeliverTask(t, id)); !errors.As(err, &ra) || !ra.Failure {
			t.Fatalf("delivery %d: ProcessTask = %v, want a failed attempt", i, err)
		}
	}
	if n := len(p.requests()); n != 3 {
		t.Errorf("sender called %d times, want 3: each failed attempt must release its slot", n)
	}
}

// A test event checks an endpoint now: it goes through an open breaker and
// to a webhook that was disabled (to check a fix before re-enabling it),
// gets one attempt, and leaves the webhook's health as it was.
func TestDeliverTestEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setupFair(t, jobs.WebhookLimitsConfig{MaxInFlight: 10, LeaseTTL: time.Minute, BreakerThreshold: 2, ProbeInterval: time.Hour})
	failing := &fakeSender{SendFunc: answer(sender.Result{Outcome: delivery.HTTPError, StatusCode: 500, Error: "receiver answered 500"})}
	var retried sync.Map // delivery ids with a retry task
	enq := &fakeEnqueuer{EnqueueContextFunc: func(_ context.Context, task *asynq.Task, _ ...asynq.Option) (*asynq.TaskInfo, error) {
		var p jobs.DeliverPayload
		if err := json.Unmarshal(task.Payload(), &p); err != nil {
			t.Errorf("retry task payload %q: %v", task.Payload(), err)
		}
		retried.Store(p.DeliveryID, true)
		return &asynq.TaskInfo{}, nil
	}}
	h := f.fixture.handler(t, failing, policy, retriesVia(enq), autoDisable(delivery.AutoDisable{MinFailures: 3}),
		func(c *jobs.DeliverConfig) { c.Limits = f.fair })

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
			if !errors.Is(err, asynq.SkipRetry) || d.Status != delivery.StatusFailed || d.NextAttemptAt.Valid {
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
	if n := len(failing.requests()); n != 5 {
		t.Errorf("sender called %d times, want 5: three deliveries and two tests", n)
	}
}

func TestDeliverBreaker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const interval = 300 * time.Millisecond
	f := setupFair(t, jobs.WebhookLimitsConfig{MaxInFlight: 10, LeaseTTL: time.Minute, BreakerThreshold: 2, ProbeInterval: interval})
	failing := &fakeSender{SendFunc: answer(sender.Result{Outcome: delivery.HTTPError, StatusCode: 503, Error: "receiver answered 503"})}
	h := f.handler(t, failing, policy)

	// Two failures open the breaker.
	for range 2 {
		id := f.mustDelivery(t, time.Now())
		var ra *jobs.RetryAfterError
		if err := h.ProcessTask(ctx, mustDeliverTask(t, id)); !errors.As(err, &ra) || !ra.Failure {
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
		var ra *jobs.RetryAfterError
		if errors.As(err, &ra) && ra.Failure {
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
	waitFor(t, 5*time.Second, "the next probe", func() bool {
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
		if err := h.ProcessTask(ctx, mustDeliverTask(t, id)); err != nil {
			t.Errorf("ProcessTask after a successful probe = %v, want nil", err)
		}
	}
	if n := len(ok.requests()); n != len(rest) {
		t.Errorf("sender called %d times after the breaker closed, want %d", n, len(rest))
	}
}
