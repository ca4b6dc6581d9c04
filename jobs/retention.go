package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/trackelio/webhooks/metrics"
	"github.com/trackelio/webhooks/repo"
)

// TypeRetention is the task type of the periodic data retention run.
const TypeRetention = "retention:prune"

// retentionPayload configures one data retention run.
type retentionPayload struct {
	// PeriodMS is how long finished history is kept; 0 keeps everything.
	PeriodMS int64 `json:"period_ms"`
}

// retentionTaskTimeout leaves a run that used its whole budget
// (retentionBudget) time to finish its last batch.
const retentionTaskTimeout = retentionBudget + 5*time.Minute

// NewRetentionTask builds the periodic data retention task.
func NewRetentionTask(period time.Duration) (*asynq.Task, error) {
	return newMaintenanceTask(TypeRetention, retentionPayload{PeriodMS: period.Milliseconds()}, retentionTaskTimeout)
}

// RetentionStore is what data retention needs from Postgres.
type RetentionStore interface {
	WithRetentionLock(ctx context.Context, fn func(context.Context) error) (bool, error)
	DeleteExpired(ctx context.Context, r repo.Retention) (repo.Deleted, error)
}

// retentionBudget bounds one run. A large backlog (retention turned on over
// months of history) is deleted over several runs instead of one that
// outlives its task's timeout and ends archived as a failure.
const retentionBudget = 10 * time.Minute

// RetentionConfig configures the data retention handler; only Store,
// Metrics and Log are required.
type RetentionConfig struct {
	Store   RetentionStore
	Metrics *metrics.Metrics
	Log     *slog.Logger
	// Now is the clock that places the cutoff (time.Now when nil).
	Now func() time.Time
	// BatchSize bounds the rows one batch's transaction locks and deletes
	// (repo's default when 0).
	BatchSize int
	// Budget bounds one run (10 minutes when 0); what is left waits for
	// the next run.
	Budget time.Duration
}

// RetentionHandler deletes finished deliveries, their attempts, and events
// with no delivery left, once they are older than the task's period.
type RetentionHandler struct {
	cfg RetentionConfig
}

// NewRetentionHandler builds the handler for TypeRetention.
func NewRetentionHandler(cfg RetentionConfig) *RetentionHandler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Budget <= 0 {
		cfg.Budget = retentionBudget
	}
	return &RetentionHandler{cfg: cfg}
}

// retentionCutoff is the moment before which finished history is deleted
// at now, and false when period keeps everything (0).
func retentionCutoff(now time.Time, period time.Duration) (time.Time, bool) {
	if period <= 0 {
		return time.Time{}, false
	}
	return now.Add(-period), true
}

// ProcessTask implements asynq.Handler.
func (h *RetentionHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p retentionPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.PeriodMS < 0 {
		return fmt.Errorf("decode %s payload %q: %v: %w", TypeRetention, t.Payload(), err, asynq.SkipRetry)
	}
	before, ok := retentionCutoff(h.cfg.Now(), time.Duration(p.PeriodMS)*time.Millisecond)
	if !ok {
		return nil
	}
	run, cancel := context.WithTimeout(ctx, h.cfg.Budget)
	defer cancel()
	var deleted repo.Deleted
	ran, err := h.cfg.Store.WithRetentionLock(ctx, func(context.Context) error {
		var err error
		deleted, err = h.cfg.Store.DeleteExpired(run, repo.Retention{Before: before, BatchSize: h.cfg.BatchSize})
		return err
	})
	// What the committed batches deleted counts, whatever stopped the run.
	h.record(ctx, deleted, before)
	switch {
	case err != nil && run.Err() != nil && ctx.Err() == nil:
		h.cfg.Log.InfoContext(ctx, "retention used its time budget; the next run goes on", "budget", h.cfg.Budget.String())
		return nil
	case err != nil:
		return fmt.Errorf("retention: %w", err)
	case !ran:
		h.cfg.Log.DebugContext(ctx, "retention skipped; another run holds the lock")
	}
	return nil
}

func (h *RetentionHandler) record(ctx context.Context, d repo.Deleted, before time.Time) {
	m := h.cfg.Metrics.RetentionDeleted
	m.WithLabelValues(metrics.TableDeliveries).Add(float64(d.Deliveries))
	m.WithLabelValues(metrics.TableAttempts).Add(float64(d.Attempts))
	m.WithLabelValues(metrics.TableEvents).Add(float64(d.Events))
	m.WithLabelValues(metrics.TableNotices).Add(float64(d.Notices))
	if d != (repo.Deleted{}) {
		h.cfg.Log.InfoContext(ctx, "retention deleted finished history", "before", before,
			"deliveries", d.Deliveries, "delivery_attempts", d.Attempts, "events", d.Events)
	}
}
