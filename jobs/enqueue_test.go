package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/trackelio/webhooks/internal/queuetest"
	"github.com/trackelio/webhooks/jobs"
)

func TestEnqueueDelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	redisOpt := newRedis(t)
	insp := queuetest.NewInspector(t, redisOpt)
	enq := jobs.NewDeliveryQueue(queuetest.NewClient(t, redisOpt), f.metrics)
	id := f.mustDelivery(t, time.Now())

	// A task already in Redis counts as enqueued.
	for range 2 {
		if err := enq.EnqueueDelivery(ctx, id); err != nil {
			t.Fatalf("EnqueueDelivery: %v", err)
		}
	}
	info, err := insp.GetTaskInfo(jobs.QueueDeliveries, id)
	if err != nil {
		t.Fatalf("GetTaskInfo: %v", err)
	}
	type task struct {
		ID, Queue, Type string
		Payload         jobs.DeliverPayload
		State           asynq.TaskState
		MaxRetry        int
		Timeout         time.Duration
	}
	got := task{ID: info.ID, Queue: info.Queue, Type: info.Type, State: info.State, MaxRetry: info.MaxRetry, Timeout: info.Timeout}
	if err := json.Unmarshal(info.Payload, &got.Payload); err != nil {
		t.Fatalf("payload %q: %v", info.Payload, err)
	}
	want := task{
		ID: id, Queue: jobs.QueueDeliveries, Type: jobs.TypeDeliver, Payload: jobs.DeliverPayload{DeliveryID: id},
		State: asynq.TaskStatePending, MaxRetry: 100000, Timeout: 10 * time.Minute,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("enqueued task (-want +got):\n%s", diff)
	}
	if n := testutil.ToFloat64(f.metrics.EnqueueErrors); n != 0 {
		t.Errorf("enqueue errors = %v, want 0", n)
	}
	if n := histogramCount(t, f.metrics.EnqueueDuration); n != 2 {
		t.Errorf("enqueue duration samples = %d, want 2", n)
	}

	// The sweep task goes to the maintenance queue and is never retried.
	sweep := mustSweepTask(t, 90*time.Second)
	si, err := queuetest.NewClient(t, redisOpt).EnqueueContext(ctx, sweep)
	if err != nil {
		t.Fatalf("enqueue sweep: %v", err)
	}
	var sp jobs.SweepPayload
	if err := json.Unmarshal(si.Payload, &sp); err != nil {
		t.Fatal(err)
	}
	if si.Queue != jobs.QueueMaintenance || si.MaxRetry != 0 || si.Type != jobs.TypeOutboxSweep || sp.GraceMS != 90000 {
		t.Errorf("sweep task = queue %s max retry %d type %s grace %dms; want maintenance, 0, %s, 90000",
			si.Queue, si.MaxRetry, si.Type, sp.GraceMS, jobs.TypeOutboxSweep)
	}
}

func TestEnqueueDeliveryErrors(t *testing.T) {
	t.Parallel()
	m := setupMetrics()
	redisDown := errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
	tests := []struct {
		name       string
		err        error
		wantErr    bool
		wantErrors float64
	}{
		{"redis down", redisDown, true, 1},
		{"already enqueued", asynq.ErrTaskIDConflict, false, 1},
		{"ok", nil, false, 1},
	}
	for _, tt := range tests {
		enq := jobs.NewDeliveryQueue(&fakeEnqueuer{EnqueueContextFunc: func(context.Context, *asynq.Task, ...asynq.Option) (*asynq.TaskInfo, error) {
			return &asynq.TaskInfo{}, tt.err
		}}, m)
		err := enq.EnqueueDelivery(context.Background(), "0190a3b4-0000-7000-8000-000000000001")
		if (err != nil) != tt.wantErr || (tt.wantErr && !errors.Is(err, redisDown)) {
			t.Errorf("%s: EnqueueDelivery = %v, want error %v", tt.name, err, tt.wantErr)
		}
		if n := testutil.ToFloat64(m.EnqueueErrors); n != tt.wantErrors {
			t.Errorf("%s: enqueue errors = %v, want %v", tt.name, n, tt.wantErrors)
		}
	}
}

// histogramCount reads a histogram's sample count.
func histogramCount(tb testing.TB, h interface{ Write(*dto.Metric) error }) uint64 {
	tb.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		tb.Fatalf("read histogram: %v", err)
	}
	return m.GetHistogram().GetSampleCount()
}
