package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/trackelio/webhooks/internal/queuetest"
	"github.com/trackelio/webhooks/jobs"
)

func TestTaskLocation(t *testing.T) {
	t.Parallel()
	id := uuid.NewString()
	tests := []struct {
		attempts    int
		queue, task string
	}{
		{0, jobs.QueueDeliveries, id},
		{1, jobs.QueueRetries, id + ":2"},
		{2, jobs.QueueRetries, id + ":3"},
		{9, jobs.QueueRetries, id + ":10"},
	}
	for _, tt := range tests {
		queue, task := jobs.TaskLocation(id, tt.attempts)
		if queue != tt.queue || task != tt.task {
			t.Errorf("TaskLocation(id, %d) = %s, %s; want %s, %s", tt.attempts, queue, task, tt.queue, tt.task)
		}
	}
}

// TestNewDeliverTask enqueues the tasks NewDeliverTask builds and reads them
// back with the Inspector.
func TestNewDeliverTask(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	opt := newRedis(t)
	client, insp := queuetest.NewClient(t, opt), queuetest.NewInspector(t, opt)
	id := uuid.NewString()
	later := time.Now().Add(time.Hour).Truncate(time.Millisecond).Add(300 * time.Millisecond)

	tests := []struct {
		name      string
		attempts  int
		processAt time.Time
		queue     string
		taskID    string
		state     asynq.TaskState
	}{
		{"first attempt, due now", 0, time.Time{}, jobs.QueueDeliveries, id, asynq.TaskStatePending},
		{"second attempt, later", 1, later, jobs.QueueRetries, id + ":2", asynq.TaskStateScheduled},
		{"fourth attempt, later", 3, later, jobs.QueueRetries, id + ":4", asynq.TaskStateScheduled},
	}
	for _, tt := range tests {
		task, err := jobs.NewDeliverTask(id, tt.attempts, tt.processAt)
		if err != nil {
			t.Fatalf("%s: NewDeliverTask: %v", tt.name, err)
		}
		if task.Type() != jobs.TypeDeliver {
			t.Errorf("%s: type %q, want %q", tt.name, task.Type(), jobs.TypeDeliver)
		}
		var p jobs.DeliverPayload
		if err := json.Unmarshal(task.Payload(), &p); err != nil || p.DeliveryID != id {
			t.Errorf("%s: payload %s, %v; want the delivery id only", tt.name, task.Payload(), err)
		}
		if _, err := client.EnqueueContext(ctx, task); err != nil {
			t.Fatalf("%s: enqueue: %v", tt.name, err)
		}
		info, err := insp.GetTaskInfo(tt.queue, tt.taskID)
		if err != nil {
			t.Fatalf("%s: GetTaskInfo(%s, %s): %v", tt.name, tt.queue, tt.taskID, err)
		}
		if info.State != tt.state || info.Type != jobs.TypeDeliver {
			t.Errorf("%s: task state %v type %s, want %v %s", tt.name, info.State, info.Type, tt.state, jobs.TypeDeliver)
		}
		if info.MaxRetry < 1000 || info.Timeout <= 0 {
			t.Errorf("%s: MaxRetry %d Timeout %v; want a large retry backstop and a timeout", tt.name, info.MaxRetry, info.Timeout)
		}
		if !tt.processAt.IsZero() {
			// asynq keeps whole seconds; the task must never come early.
			if info.NextProcessAt.Before(tt.processAt) || info.NextProcessAt.After(tt.processAt.Add(time.Second)) {
				t.Errorf("%s: NextProcessAt %v, want %v rounded up to a second", tt.name, info.NextProcessAt, tt.processAt)
			}
		}
		// The same attempt's task is one task.
		if _, err := client.EnqueueContext(ctx, task); !errors.Is(err, asynq.ErrTaskIDConflict) {
			t.Errorf("%s: enqueueing it again = %v, want ErrTaskIDConflict", tt.name, err)
		}
	}
}

// TestHandlersRefuseBadPayloads: a task whose payload its handler cannot
// read is dropped, its error wrapping SkipRetry; a delivery's sends nothing.
func TestHandlersRefuseBadPayloads(t *testing.T) {
	t.Parallel()
	p := &fakeSender{}
	tests := []struct {
		name     string
		h        asynq.Handler
		taskType string
		payloads []string
	}{
		{"deliver", setup(t).handler(t, p, policy), jobs.TypeDeliver, []string{``, `not json`, `{}`, `{"delivery_id":""}`, `{"delivery_id":42}`}},
		{"outbox sweep", jobs.NewSweepHandler(nil, nil, nil, setupMetrics(), discardLog), jobs.TypeOutboxSweep, []string{`not json`, `{"grace_ms":-1}`, `{"grace_ms":"soon"}`}},
		{"retention", jobs.NewRetentionHandler(jobs.RetentionConfig{Metrics: setupMetrics(), Log: discardLog}), jobs.TypeRetention, []string{`not json`, `{"period_ms":-1}`, `{"period_ms":"30d"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, payload := range tt.payloads {
				err := tt.h.ProcessTask(context.Background(), asynq.NewTask(tt.taskType, []byte(payload)))
				if !errors.Is(err, asynq.SkipRetry) {
					t.Errorf("ProcessTask(%q) = %v, want an error wrapping asynq.SkipRetry", payload, err)
				}
			}
		})
	}
	p.wantSent(t, 0)
}
