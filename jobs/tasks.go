// Package jobs is the asynq side of the webhook sender: the queues, the
// task types with their payloads and constructors, the task handlers
// (delivery, outbox sweep, data retention), the recovery of a dead
// worker's tasks, and the server, mux and logger wiring. It is not the
// rules of a delivery (package delivery decides), the per-endpoint limits
// (package endpointlimit) nor the HTTP attempt (package sender); the
// deliver handler calls each. It is the service's own, with no promise of
// compatibility to other modules (see the README's Layout).
package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
)

// TypeDeliver is the task type of one delivery attempt.
const TypeDeliver = "webhook:deliver"

// Queues. First attempts and retries have their own queues, weighted so a
// flood of retries cannot delay fresh events; maintenance is small and must
// not wait behind a delivery backlog.
const (
	QueueDeliveries  = "deliveries"
	QueueRetries     = "retries"
	QueueMaintenance = "maintenance"
)

// queueWeights lists every queue a worker serves, with its weight.
var queueWeights = map[string]int{QueueDeliveries: 6, QueueRetries: 3, QueueMaintenance: 1}

const (
	// maxTaskRetries is only a backstop: Postgres' attempt count decides when
	// a delivery is exhausted, and the handler archives the task then. asynq
	// retries also carry waits (in-flight cap, breaker), so it is large.
	maxTaskRetries = 100000
	// taskTimeout bounds one handler run; the HTTP attempt has its own,
	// shorter DELIVERY_TIMEOUT.
	taskTimeout = 10 * time.Minute
)

// TaskEnqueuer enqueues tasks; *asynq.Client implements it.
type TaskEnqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// DeliverPayload identifies the delivery; customer data stays in Postgres,
// out of Redis and out of asynqmon.
type DeliverPayload struct {
	DeliveryID string `json:"delivery_id"`
}

// taskLocation is where the task of a delivery that has made attempts
// attempts lives: the first attempt's task is on the deliveries queue under
// the delivery id; the task for attempt n+1 is on the retries queue under
// "<id>:<n+1>". Both the worker and the outbox sweep derive it from Postgres.
func taskLocation(deliveryID string, attempts int) (queue, taskID string) {
	if attempts == 0 {
		return QueueDeliveries, deliveryID
	}
	return QueueRetries, deliveryID + ":" + strconv.Itoa(attempts+1)
}

// NewDeliverTask builds the task for a delivery's next attempt. Its TaskID
// is derived from the delivery id and attempt count, so enqueueing a task
// that is already in Redis is a conflict, not a duplicate.
func NewDeliverTask(deliveryID string, attempts int, processAt time.Time) (*asynq.Task, error) {
	payload, err := json.Marshal(DeliverPayload{DeliveryID: deliveryID})
	if err != nil {
		return nil, fmt.Errorf("encode deliver payload: %w", err)
	}
	queue, id := taskLocation(deliveryID, attempts)
	opts := []asynq.Option{
		asynq.TaskID(id),
		asynq.Queue(queue),
		asynq.MaxRetry(maxTaskRetries),
		asynq.Timeout(taskTimeout),
	}
	if !processAt.IsZero() {
		// Rounded up: asynq keeps due times in whole seconds, truncating.
		opts = append(opts, asynq.ProcessAt(ceilSecond(processAt)))
	}
	return asynq.NewTask(TypeDeliver, payload, opts...), nil
}

// newMaintenanceTask builds a periodic task of the maintenance queue. It is
// never retried: the scheduler's next tick runs it again.
func newMaintenanceTask(typ string, payload any, timeout time.Duration) (*asynq.Task, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", typ, err)
	}
	return asynq.NewTask(typ, b, asynq.Queue(QueueMaintenance), asynq.MaxRetry(0), asynq.Timeout(timeout)), nil
}
