package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/trackelio/webhooks/internal/queuetest"
	"github.com/trackelio/webhooks/jobs"
)

// TestOrphanRecovererRequeuesTasksOfADeadWorker: of two tasks a real asynq
// server runs, the one whose lease went unextended (its worker died) goes
// back to pending, as asynq itself reads it; the live one stays active, and
// a second pass moves nothing.
func TestOrphanRecovererRequeuesTasksOfADeadWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	opt := newRedis(t)
	// The scheduler makes its client the same way (boot.RedisClient).
	rdb := opt.MakeRedisClient().(*redis.Client)
	t.Cleanup(func() { rdb.Close() })

	started := make(chan string, 4)
	release := make(chan struct{})
	mux := asynq.NewServeMux()
	mux.HandleFunc(jobs.TypeDeliver, func(ctx context.Context, task *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		select {
		case started <- id:
		default:
		}
		<-release
		return nil
	})
	srv := asynq.NewServer(opt, asynq.Config{Concurrency: 2, Queues: map[string]int{jobs.QueueDeliveries: 1},
		TaskCheckInterval: 10 * time.Millisecond, ShutdownTimeout: 5 * time.Second, LogLevel: asynq.FatalLevel})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	t.Cleanup(func() { close(release) })
	client := asynq.NewClient(opt)
	t.Cleanup(func() { client.Close() })
	dead, live := uuid.NewString(), uuid.NewString()
	for _, id := range []string{dead, live} {
		task, err := jobs.NewDeliverTask(id, 0, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.Enqueue(task); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("the asynq server did not start both tasks")
		}
	}

	// The dead worker's heartbeat last extended its lease 20 s ago.
	now := time.Now()
	if err := rdb.ZAddXX(ctx, "asynq:{"+jobs.QueueDeliveries+"}:lease",
		redis.Z{Member: dead, Score: float64(now.Add(30*time.Second - 20*time.Second).Unix())}).Err(); err != nil {
		t.Fatal(err)
	}
	recovered := prometheus.NewCounter(prometheus.CounterOpts{Name: "recovered"})
	o := jobs.NewOrphanRecoverer(rdb, jobs.OrphanConfig{After: 12 * time.Second, Now: func() time.Time { return now }}, recovered, discardLog)
	if n, err := o.Recover(ctx); err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v; want 1 task recovered", n, err)
	}
	if n, err := o.Recover(ctx); err != nil || n != 0 {
		t.Errorf("a second Recover = %d, %v; want 0", n, err)
	}
	if got := testutil.ToFloat64(recovered); got != 1 {
		t.Errorf("recovered counter = %v, want 1", got)
	}
	insp := queuetest.NewInspector(t, opt)
	for id, want := range map[string]asynq.TaskState{dead: asynq.TaskStatePending, live: asynq.TaskStateActive} {
		info, err := insp.GetTaskInfo(jobs.QueueDeliveries, id)
		if err != nil {
			t.Fatalf("GetTaskInfo(%s): %v", id, err)
		}
		if info.State != want {
			t.Errorf("task %s is %v, want %v", id, info.State, want)
		}
	}
}
