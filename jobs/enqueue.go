package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/trackelio/webhooks/metrics"
)

// Enqueuer puts delivery tasks into Redis for the api.
type Enqueuer struct {
	client  TaskEnqueuer
	metrics *metrics.Metrics
}

// NewEnqueuer wraps an asynq client.
func NewEnqueuer(client TaskEnqueuer, m *metrics.Metrics) *Enqueuer {
	return &Enqueuer{client: client, metrics: m}
}

// EnqueueDelivery enqueues the task of one delivery, due now. A task that is
// already in Redis counts as enqueued.
func (e *Enqueuer) EnqueueDelivery(ctx context.Context, deliveryID string) error {
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
