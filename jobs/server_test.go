package jobs_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/queuetest"
	"github.com/trackelio/webhooks/internal/sender"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testreceiver"
	"github.com/trackelio/webhooks/internal/testwait"
	"github.com/trackelio/webhooks/jobs"
	"github.com/trackelio/webhooks/signature"
)

// startWorker runs a real asynq server with the production mux, handlers and
// sender, until the test ends.
func startWorker(tb testing.TB, f *fixture, redisOpt asynq.RedisConnOpt, pol delivery.RetryPolicy) {
	tb.Helper()
	srv := jobs.NewServer(redisOpt, jobs.ServerConfig{
		Concurrency: 4, PollInterval: 10 * time.Millisecond, ShutdownTimeout: time.Second,
	}, f.metrics, discardLog)
	snd := sender.New(sender.Config{Timeout: 5 * time.Second, MaxConnsPerHost: 4, UserAgent: "Trackelio-Webhooks/test"})
	deliver := jobs.NewDeliverHandler(jobs.DeliverConfig{Store: f.store, Sender: snd, Policy: pol, Metrics: f.metrics, Log: discardLog})
	handlers := jobs.Handlers{
		Deliver:   deliver,
		Sweep:     jobs.NewSweepHandler(f.store, queuetest.NewClient(tb, redisOpt), queuetest.NewInspector(tb, redisOpt), f.metrics, discardLog),
		Retention: jobs.NewRetentionHandler(jobs.RetentionConfig{Store: f.store, Metrics: f.metrics, Log: discardLog}),
	}
	if err := srv.Start(jobs.NewMux(handlers, discardLog)); err != nil {
		tb.Fatalf("start asynq server: %v", err)
	}
	tb.Cleanup(func() { srv.Shutdown(); deliver.Close() })
}

func TestWorkerRetriesUntilSuccess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rc := testreceiver.New(t, testreceiver.Config{Reply: testreceiver.Statuses(500, 500, 200)})
	f := setupWithURL(t, rc.URL(""))
	redisOpt := newRedis(t)
	startWorker(t, f, redisOpt, delivery.RetryPolicy{Schedule: []time.Duration{50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}})

	id := f.mustDelivery(t, time.Now())
	if err := jobs.NewDeliveryQueue(queuetest.NewClient(t, redisOpt), f.metrics).EnqueueDelivery(ctx, id); err != nil {
		t.Fatalf("EnqueueDelivery: %v", err)
	}

	testwait.For(t, 30*time.Second, "the delivery to succeed", func() bool {
		return f.mustGetDelivery(t, id).Status == delivery.StatusSucceeded
	})
	d := f.mustGetDelivery(t, id)
	if diff := cmp.Diff(new(200), d.StatusCode); d.Attempts != 3 || diff != "" {
		t.Errorf("delivery = %d attempts, want 3 ending in 200; last status (-want +got):\n%s", d.Attempts, diff)
	}
	var codes []*int
	for _, a := range f.mustAttempts(t, id) {
		codes = append(codes, a.StatusCode)
	}
	if diff := cmp.Diff([]*int{new(500), new(500), new(200)}, codes); diff != "" {
		t.Errorf("attempt status codes (-want +got):\n%s", diff)
	}
	var bodies, ids []string
	var sigOK []bool
	for _, r := range rc.Requests() {
		bodies = append(bodies, string(r.Body))
		ids = append(ids, r.Delivery())
		sigOK = append(sigOK, signature.Verify(f.hook.Secret, r.Body, r.Header.Get(signature.Header)))
	}
	// Every attempt carries the same bytes, the same delivery id and a valid signature.
	work := testfactory.Work(t, f.store, id)
	want := string(work.Body)
	if diff := cmp.Diff([]string{want, want, want}, bodies); diff != "" {
		t.Errorf("bodies (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{id, id, id}, ids); diff != "" {
		t.Errorf("X-Trackelio-Delivery (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]bool{true, true, true}, sigOK); diff != "" {
		t.Errorf("signature valid per attempt (-want +got):\n%s", diff)
	}
	f.wantCounts(t, counts{
		Attempts: map[delivery.Outcome]float64{delivery.HTTPError: 2, delivery.Success: 1},
		Finished: map[delivery.Status]float64{delivery.StatusSucceeded: 1},
	})
	if n := testutil.ToFloat64(f.metrics.TaskErrors.WithLabelValues(jobs.TypeDeliver)); n != 0 {
		t.Errorf("task errors = %v, want 0: delivery failures are not task errors", n)
	}
}

func TestWorkerArchivesExhaustedDelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rc := testreceiver.New(t, testreceiver.Config{Reply: testreceiver.Always(500, "down")})
	f := setupWithURL(t, rc.URL(""))
	redisOpt := newRedis(t)
	insp := queuetest.NewInspector(t, redisOpt)
	startWorker(t, f, redisOpt, delivery.RetryPolicy{Schedule: []time.Duration{50 * time.Millisecond, 50 * time.Millisecond}})

	id := f.mustDelivery(t, time.Now())
	if err := jobs.NewDeliveryQueue(queuetest.NewClient(t, redisOpt), f.metrics).EnqueueDelivery(ctx, id); err != nil {
		t.Fatalf("EnqueueDelivery: %v", err)
	}

	testwait.For(t, 30*time.Second, "the task to be archived", func() bool {
		tasks, err := insp.ListArchivedTasks(jobs.QueueDeliveries)
		if err != nil {
			return false
		}
		for _, ti := range tasks {
			if ti.ID == id {
				return true
			}
		}
		return false
	})
	d := f.mustGetDelivery(t, id)
	if d.Status != delivery.StatusFailed || d.Attempts != 3 || d.NextAttemptAt != nil || d.FinishedAt == nil {
		t.Errorf("delivery = %+v, want failed after 3 attempts", d)
	}
	if hits := rc.Count(); hits != 3 {
		t.Errorf("receiver got %d requests, want 3", hits)
	}
	info, err := insp.GetTaskInfo(jobs.QueueDeliveries, id)
	if err != nil {
		t.Fatalf("GetTaskInfo: %v", err)
	}
	if info.State != asynq.TaskStateArchived || !strings.Contains(info.LastErr, "failed after 3 attempts") {
		t.Errorf("task state %v, last error %q; want archived with the exhaustion reason", info.State, info.LastErr)
	}
	f.wantCounts(t, counts{
		Attempts: map[delivery.Outcome]float64{delivery.HTTPError: 3},
		Finished: map[delivery.Status]float64{delivery.StatusFailed: 1},
	})
}

func TestMuxRecoversPanics(t *testing.T) {
	t.Parallel()
	retained := errors.New("retention ran")
	mux := jobs.NewMux(jobs.Handlers{
		Deliver:   asynq.HandlerFunc(func(context.Context, *asynq.Task) error { panic("boom") }),
		Sweep:     asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil }),
		Retention: asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return retained }),
	}, discardLog)

	err := mux.ProcessTask(context.Background(), asynq.NewTask(jobs.TypeDeliver, nil))
	if err == nil || !strings.Contains(err.Error(), "panicked: boom") {
		t.Errorf("ProcessTask of a panicking handler = %v, want an error naming the panic", err)
	}
	if err := mux.ProcessTask(context.Background(), asynq.NewTask(jobs.TypeOutboxSweep, nil)); err != nil {
		t.Errorf("sweep route = %v, want nil", err)
	}
	if err := mux.ProcessTask(context.Background(), asynq.NewTask(jobs.TypeRetention, nil)); !errors.Is(err, retained) {
		t.Errorf("retention route = %v, want the retention handler's error", err)
	}
	if err := mux.ProcessTask(context.Background(), asynq.NewTask("unknown:type", nil)); err == nil {
		t.Error("unknown task type was accepted")
	}
}
