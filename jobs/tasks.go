// Package jobs owns everything asynq: task types and payloads, the handlers
// that deliver webhooks, sweep the outbox and delete expired history, the
// retry policy, and the server and mux wiring.
package jobs

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
)

// Task types.
const (
	TypeDeliver     = "webhook:deliver"
	TypeOutboxSweep = "outbox:sweep"
	TypeRetention   = "retention:prune"
)

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

// DeliverPayload identifies the delivery; customer data stays in Postgres,
// out of Redis and out of asynqmon.
type DeliverPayload struct {
	DeliveryID string `json:"delivery_id"`
}

// TaskLocation is where the task of a delivery that has made attempts
// attempts lives: the first attempt's task is on the deliveries queue under
// the delivery id; the task for attempt n+1 is on the retries queue under
// "<id>:<n+1>". Both the worker and the outbox sweep derive it from Postgres.
func TaskLocation(deliveryID string, attempts int) (queue, taskID string) {
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
	queue, id := TaskLocation(deliveryID, attempts)
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

// SweepPayload configures one outbox sweep.
type SweepPayload struct {
	// GraceMS is how overdue a pending delivery must be before the sweep
	// treats it as missing from Redis.
	GraceMS int64 `json:"grace_ms"`
}

// NewOutboxSweepTask builds the periodic sweep task.
func NewOutboxSweepTask(grace time.Duration) (*asynq.Task, error) {
	return newMaintenanceTask(TypeOutboxSweep, SweepPayload{GraceMS: grace.Milliseconds()}, 5*time.Minute)
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

// RetentionPayload configures one data retention run.
type RetentionPayload struct {
	// PeriodMS is how long finished history is kept; 0 keeps everything.
	PeriodMS int64 `json:"period_ms"`
}

// retentionTaskTimeout leaves a run that used its whole budget
// (retentionBudget) time to finish its last batch.
const retentionTaskTimeout = retentionBudget + 5*time.Minute

// NewRetentionTask builds the periodic data retention task.
func NewRetentionTask(period time.Duration) (*asynq.Task, error) {
	return newMaintenanceTask(TypeRetention, RetentionPayload{PeriodMS: period.Milliseconds()}, retentionTaskTimeout)
}
