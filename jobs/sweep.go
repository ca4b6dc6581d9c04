package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/trackelio/webhooks/metrics"
	"github.com/trackelio/webhooks/repo"
)

// TypeOutboxSweep is the task type of the periodic outbox sweep.
const TypeOutboxSweep = "outbox:sweep"

// sweepPayload configures one outbox sweep.
type sweepPayload struct {
	// GraceMS is how overdue a pending delivery must be before the sweep
	// treats it as missing from Redis.
	GraceMS int64 `json:"grace_ms"`
}

// NewOutboxSweepTask builds the periodic sweep task.
func NewOutboxSweepTask(grace time.Duration) (*asynq.Task, error) {
	return newMaintenanceTask(TypeOutboxSweep, sweepPayload{GraceMS: grace.Milliseconds()}, 5*time.Minute)
}

// SweepStore is what the outbox sweep needs from Postgres.
type SweepStore interface {
	WithSweepLock(ctx context.Context, fn func(context.Context) error) (bool, error)
	OverdueDeliveries(ctx context.Context, dueBefore time.Time, after *repo.Overdue, limit int) ([]repo.Overdue, error)
	UndispatchedNotices(ctx context.Context, before time.Time, limit int) ([]string, error)
	WorkspacesWithDueMail(ctx context.Context, now time.Time, limit int) ([]string, error)
}

// TaskInspector looks up and removes tasks; *asynq.Inspector implements it.
type TaskInspector interface {
	GetTaskInfo(queue, id string) (*asynq.TaskInfo, error)
	DeleteTask(queue, id string) error
}

const (
	sweepBatch    = 500
	sweepMaxPages = 40
)

// SweepHandler re-enqueues pending deliveries that Redis lost: their task was
// never enqueued, Redis restarted empty, or the task was archived by asynq's
// retry backstop while Postgres still says pending. It does the same for
// notices not yet dispatched and for mail that is due.
type SweepHandler struct {
	store     SweepStore
	enqueuer  TaskEnqueuer
	inspector TaskInspector
	metrics   *metrics.Metrics
	log       *slog.Logger
}

// NewSweepHandler builds the handler for TypeOutboxSweep.
func NewSweepHandler(store SweepStore, enq TaskEnqueuer, insp TaskInspector, m *metrics.Metrics, log *slog.Logger) *SweepHandler {
	return &SweepHandler{store: store, enqueuer: enq, inspector: insp, metrics: m, log: log}
}

// ProcessTask implements asynq.Handler.
func (h *SweepHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p sweepPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.GraceMS < 0 {
		return fmt.Errorf("decode %s payload %q: %v: %w", TypeOutboxSweep, t.Payload(), err, asynq.SkipRetry)
	}
	requeued := 0
	ran, err := h.store.WithSweepLock(ctx, func(ctx context.Context) error {
		dueBefore := time.Now().Add(-time.Duration(p.GraceMS) * time.Millisecond)
		var after *repo.Overdue
		for range sweepMaxPages {
			rows, err := h.store.OverdueDeliveries(ctx, dueBefore, after, sweepBatch)
			if err != nil {
				return err
			}
			for _, r := range rows {
				ok, err := h.requeue(ctx, r)
				if err != nil {
					return err
				}
				if ok {
					requeued++
				}
			}
			if len(rows) < sweepBatch {
				return nil
			}
			after = &rows[len(rows)-1]
		}
		return nil
	})
	if err == nil && ran {
		err = h.sweepNotices(ctx, time.Now().Add(-time.Duration(p.GraceMS)*time.Millisecond))
	}
	if requeued > 0 {
		h.metrics.OutboxRequeued.Add(float64(requeued))
		h.log.WarnContext(ctx, "outbox sweep re-enqueued deliveries missing from Redis", "count", requeued)
	}
	if err != nil {
		return fmt.Errorf("outbox sweep: %w", err)
	}
	if !ran {
		h.log.DebugContext(ctx, "outbox sweep skipped; another sweep holds the lock")
	}
	return nil
}

// requeue enqueues one overdue delivery's next task and reports whether
// Redis lacked it.
func (h *SweepHandler) requeue(ctx context.Context, d repo.Overdue) (bool, error) {
	task, err := NewDeliverTask(d.ID, d.Attempts, time.Time{})
	if err != nil {
		return false, err
	}
	_, err = h.enqueuer.EnqueueContext(ctx, task)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, asynq.ErrTaskIDConflict) {
		return false, fmt.Errorf("enqueue delivery %s: %w", d.ID, err)
	}
	// Already in Redis. Only an archived task is stuck: Postgres says the
	// delivery still has attempts left.
	queue, id := taskLocation(d.ID, d.Attempts)
	info, err := h.inspector.GetTaskInfo(queue, id)
	if err != nil || info.State != asynq.TaskStateArchived {
		return false, nil
	}
	if err := h.inspector.DeleteTask(queue, id); err != nil {
		return false, fmt.Errorf("delete archived task %s: %w", id, err)
	}
	if _, err := h.enqueuer.EnqueueContext(ctx, task); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return false, fmt.Errorf("enqueue delivery %s: %w", d.ID, err)
	}
	return true, nil
}

// sweepNotices enqueues the dispatch of notices decided before before and
// not dispatched, and the mail task of each workspace with mail due.
func (h *SweepHandler) sweepNotices(ctx context.Context, before time.Time) error {
	ids, err := h.store.UndispatchedNotices(ctx, before, sweepBatch)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := enqueueNotice(ctx, h.enqueuer, id); err != nil {
			return err
		}
	}
	now := time.Now()
	workspaces, err := h.store.WorkspacesWithDueMail(ctx, now, sweepBatch)
	if err != nil {
		return err
	}
	for _, ws := range workspaces {
		task, err := NewMailTask(ws, now)
		if err != nil {
			return err
		}
		if err := enqueueOnce(ctx, h.enqueuer, task); err != nil {
			return err
		}
	}
	if n := len(ids) + len(workspaces); n > 0 {
		h.log.InfoContext(ctx, "outbox sweep enqueued notice tasks", "notices", len(ids), "mail_workspaces", len(workspaces))
	}
	return nil
}
