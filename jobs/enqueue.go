package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/trackelio/webhooks/metrics"
)

// DeliveryQueue puts delivery and notice tasks into Redis for the api and
// the worker: it is the manage.Enqueuer of a running process.
type DeliveryQueue struct {
	client  TaskEnqueuer
	metrics *metrics.Metrics
}

// NewDeliveryQueue wraps an asynq client.
func NewDeliveryQueue(client TaskEnqueuer, m *metrics.Metrics) *DeliveryQueue {
	return &DeliveryQueue{client: client, metrics: m}
}

// EnqueueDelivery enqueues the task of one delivery, due now. A task that is
// already in Redis counts as enqueued.
func (e *DeliveryQueue) EnqueueDelivery(ctx context.Context, deliveryID string) error {
	task, err := NewDeliverTask(deliveryID, 0, time.Time{})
	if err != nil {
		return err
	}
	start := time.Now()
	_, err = e.client.EnqueueContext(ctx, task)
	e.metrics.EnqueueDuration.Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		e.metrics.EnqueueErrors.Inc()
		return fmt.Errorf("enqueue delivery %s: %w", deliveryID, err)
	}
	return nil
}

// EnqueueNotice enqueues the task that dispatches a notice. A task that is
// already in Redis counts as enqueued.
func (e *DeliveryQueue) EnqueueNotice(ctx context.Context, noticeID string) error {
	return enqueueNotice(ctx, e.client, noticeID)
}
