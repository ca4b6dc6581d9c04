// Package jobs owns everything asynq: task types and payloads, the handlers
// that deliver webhooks and sweep the outbox, the retry policy, and the
// server and mux wiring.
package jobs

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Task types.
const (
	TypeDeliver     = "webhook:deliver"
	TypeOutboxSweep = "outbox:sweep"
)

// Queues. Maintenance is small and must not wait behind a delivery backlog.
const (
	QueueDeliveries  = "deliveries"
	QueueMaintenance = "maintenance"
)

const (
	// maxTaskRetries is only a backstop: Postgres' attempt count decides when
	// a delivery is exhausted, and the handler archives the task then.
	maxTaskRetries = 1000
	// taskTimeout bounds one handler run; the HTTP attempt has its own,
	// shorter DELIVERY_TIMEOUT.
	taskTimeout = 10 * time.Minute
)

// DeliverPayload identifies the delivery; customer data stays in Postgres,
// out of Redis and out of asynqmon.
type DeliverPayload struct {
	DeliveryID string `json:"delivery_id"`
}

// NewDeliverTask builds the task for one delivery. Its TaskID is the delivery
// id, so enqueueing a delivery that is already in Redis is a conflict, not a
// duplicate.
func NewDeliverTask(deliveryID string, processAt time.Time) (*asynq.Task, error) {
	payload, err := json.Marshal(DeliverPayload{DeliveryID: deliveryID})
	if err != nil {
		return nil, fmt.Errorf("encode deliver payload: %w", err)
	}
	opts := []asynq.Option{
		asynq.TaskID(deliveryID),
		asynq.Queue(QueueDeliveries),
		asynq.MaxRetry(maxTaskRetries),
		asynq.Timeout(taskTimeout),
	}
	if !processAt.IsZero() {
		opts = append(opts, asynq.ProcessAt(processAt))
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
	payload, err := json.Marshal(SweepPayload{GraceMS: grace.Milliseconds()})
	if err != nil {
		return nil, fmt.Errorf("encode sweep payload: %w", err)
	}
	return asynq.NewTask(TypeOutboxSweep, payload, asynq.Queue(QueueMaintenance), asynq.MaxRetry(0), asynq.Timeout(5*time.Minute)), nil
}
