package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/hibiken/asynq"

	"github.com/trackelio/webhooks/catalog"
	"github.com/trackelio/webhooks/metrics"
	"github.com/trackelio/webhooks/repo"
	"github.com/trackelio/webhooks/sender"
)

// DeliveryStore is what the deliver handler needs from Postgres.
type DeliveryStore interface {
	Work(ctx context.Context, deliveryID string) (repo.Work, error)
	RecordAttempt(ctx context.Context, r repo.AttemptResult) (repo.Recorded, error)
	CancelDelivery(ctx context.Context, deliveryID string) error
}

// Poster makes one HTTP attempt.
type Poster interface {
	Send(ctx context.Context, r sender.Request) sender.Result
}

// recordTimeout bounds writing an attempt that was already made, even while
// the worker shuts down, so the attempt is not repeated needlessly.
const recordTimeout = 10 * time.Second

// DeliverHandler performs one delivery attempt per task run.
type DeliverHandler struct {
	store       DeliveryStore
	poster      Poster
	policy      RetryPolicy
	metrics     *metrics.Metrics
	log         *slog.Logger
	fairness    *Fairness
	autoDisable repo.AutoDisable
	enqueuer    TaskEnqueuer
}

// NewDeliverHandler builds the handler for TypeDeliver. Without an
// enqueuer (WithRetryQueue) retries stay on the task's own queue.
func NewDeliverHandler(store DeliveryStore, poster Poster, policy RetryPolicy, m *metrics.Metrics, log *slog.Logger) *DeliverHandler {
	initSeries(m)
	return &DeliverHandler{store: store, poster: poster, policy: policy, metrics: m, log: log}
}

// initSeries creates every label combination the handler uses. A series
// that first appears at its first increment hides that increment from
// increase() and rate(), so the first permanent failure after a restart
// would not alert.
func initSeries(m *metrics.Metrics) {
	outcomes := []sender.Outcome{sender.Success, sender.HTTPError, sender.Timeout, sender.ConnectionError, sender.Blocked}
	types := []string{catalog.TestType}
	for _, t := range catalog.All() {
		types = append(types, t.Type)
	}
	for _, t := range types {
		for _, o := range outcomes {
			m.Attempts.WithLabelValues(t, string(o))
		}
		for _, st := range []string{repo.StatusSucceeded, repo.StatusFailed, repo.StatusCancelled} {
			m.Finished.WithLabelValues(t, st)
		}
	}
	for _, o := range outcomes {
		m.AttemptDuration.WithLabelValues(string(o))
	}
	for _, r := range []string{waitInFlightCap, waitBreakerOpen} {
		m.Waits.WithLabelValues(r)
	}
}

// Reasons a task waits without an attempt (metric label values).
const (
	waitInFlightCap = "in_flight_cap"
	waitBreakerOpen = "breaker_open"
)

// WithFairness caps in-flight attempts per webhook and adds the breaker.
func (h *DeliverHandler) WithFairness(f *Fairness) *DeliverHandler {
	h.fairness = f
	return h
}

// WithAutoDisable disables webhooks that keep failing.
func (h *DeliverHandler) WithAutoDisable(a repo.AutoDisable) *DeliverHandler {
	h.autoDisable = a
	return h
}

// WithRetryQueue schedules each retry as a task on the retries queue.
func (h *DeliverHandler) WithRetryQueue(e TaskEnqueuer) *DeliverHandler {
	h.enqueuer = e
	return h
}

// ProcessTask implements asynq.Handler.
func (h *DeliverHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p DeliverPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.DeliveryID == "" {
		return fmt.Errorf("decode %s payload %q: %v: %w", TypeDeliver, t.Payload(), err, asynq.SkipRetry)
	}
	w, err := h.store.Work(ctx, p.DeliveryID)
	if errors.Is(err, repo.ErrNotFound) {
		h.log.WarnContext(ctx, "delivery not found; dropping task", "delivery_id", p.DeliveryID)
		return nil
	}
	if err != nil {
		return err
	}
	// asynq may run a task again after a lost lease or a sweep; the stored
	// status is the truth.
	if w.Status != repo.StatusPending {
		return nil
	}
	if w.WebhookDeleted || !w.WebhookActive {
		if err := h.store.CancelDelivery(ctx, w.DeliveryID); err != nil {
			return err
		}
		h.metrics.Finished.WithLabelValues(w.EventType, repo.StatusCancelled).Inc()
		return nil
	}
	if w.NextAttemptAt.Valid {
		if wait := time.Until(w.NextAttemptAt.Time); wait > 0 {
			return &RetryAfterError{Delay: wait, Reason: "attempt not due yet"}
		}
	}
	if h.fairness != nil {
		release, ok, err := h.fairness.Acquire(ctx, w.WebhookID)
		if err != nil {
			return err
		}
		if !ok {
			h.metrics.Waits.WithLabelValues(waitInFlightCap).Inc()
			return &RetryAfterError{Delay: SlotWait(), Reason: "webhook at its in-flight cap"}
		}
		defer release()
		wait, err := h.fairness.Probe(ctx, w.WebhookID, w.ConsecutiveFailures)
		if err != nil {
			return err
		}
		if wait > 0 {
			h.metrics.Waits.WithLabelValues(waitBreakerOpen).Inc()
			return &RetryAfterError{Delay: wait, Reason: "circuit breaker open; waiting for the next probe"}
		}
	}
	return h.attempt(ctx, w)
}

func (h *DeliverHandler) attempt(ctx context.Context, w repo.Work) error {
	n := w.Attempts + 1
	res := h.poster.Send(ctx, sender.Request{
		URL: w.WebhookURL, Body: w.Body, Secret: w.Secret, PreviousSecret: w.PreviousSecret.String,
		EventType: w.EventType, DeliveryID: w.DeliveryID,
	})
	now := time.Now()
	r := repo.AttemptResult{
		DeliveryID: w.DeliveryID, Attempt: n, StatusCode: res.StatusCode, ResponseBody: res.Body,
		ResponseTruncated: res.Truncated, ResponseHeaders: res.Headers, RequestHeaders: res.RequestHeaders,
		Error: res.Error, Duration: res.Duration,
		At: now, Succeeded: res.Outcome == sender.Success, AutoDisable: h.autoDisable,
	}
	var delay time.Duration
	switch {
	case r.Succeeded:
		r.NewStatus = repo.StatusSucceeded
	case res.StatusCode == http.StatusGone:
		// The receiver says the endpoint is gone for good: stop at once.
		r.NewStatus, r.DisableReason = repo.StatusFailed, "gone"
	case n >= h.policy.MaxAttempts():
		r.NewStatus = repo.StatusFailed
	default:
		r.NewStatus = repo.StatusPending
		throttled := res.StatusCode == http.StatusTooManyRequests || res.Outcome == sender.Timeout
		delay = h.policy.After(n, res.RetryAfter, throttled)
		r.NextAttemptAt = now.Add(delay)
	}
	recCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	rec, err := h.store.RecordAttempt(recCtx, r)
	if err != nil {
		// The attempt was made but not stored: asynq runs the task again
		// soon and the same attempt number is used.
		return err
	}
	if !rec.Stored {
		h.log.InfoContext(ctx, "attempt already recorded by another run", "delivery_id", w.DeliveryID, "attempt", n)
		return nil
	}

	h.metrics.Attempts.WithLabelValues(w.EventType, string(res.Outcome)).Inc()
	h.metrics.AttemptDuration.WithLabelValues(string(res.Outcome)).Observe(res.Duration.Seconds())
	// Built only when a line is written: successes log at debug, which is
	// usually off, and With would allocate on every delivery.
	log := func() *slog.Logger {
		return h.log.With("delivery_id", w.DeliveryID, "webhook_id", w.WebhookID, "event_type", w.EventType,
			"attempt", n, "status_code", res.StatusCode, "outcome", res.Outcome, "duration_ms", res.Duration.Milliseconds())
	}
	if rec.Disabled {
		h.metrics.Disabled.Inc()
		log().WarnContext(ctx, "webhook disabled", "reason", cmp.Or(r.DisableReason, "failing"))
	}
	switch r.NewStatus {
	case repo.StatusSucceeded:
		h.metrics.Finished.WithLabelValues(w.EventType, repo.StatusSucceeded).Inc()
		h.metrics.DeliveryLatency.Observe(now.Sub(w.EventCreatedAt).Seconds())
		if h.log.Enabled(ctx, slog.LevelDebug) {
			log().DebugContext(ctx, "delivered")
		}
		return nil
	case repo.StatusFailed:
		h.metrics.Finished.WithLabelValues(w.EventType, repo.StatusFailed).Inc()
		log().WarnContext(ctx, "delivery failed; no more attempts", "error", res.Error)
		return fmt.Errorf("delivery %s failed after %d attempts: %s: %w", w.DeliveryID, n, res.Error, asynq.SkipRetry)
	}
	log().InfoContext(ctx, "attempt failed; will retry", "error", res.Error, "retry_in", delay.String())
	if h.enqueuer != nil {
		task, err := NewDeliverTask(w.DeliveryID, n, r.NextAttemptAt)
		if err != nil {
			return err
		}
		if _, err := h.enqueuer.EnqueueContext(ctx, task); err == nil || errors.Is(err, asynq.ErrTaskIDConflict) {
			return nil
		}
		// This task stays and retries itself at the due time instead.
		log().WarnContext(ctx, "could not schedule the retry task", "error", err)
	}
	return &RetryAfterError{Delay: delay, Failure: true, Reason: fmt.Sprintf("attempt %d failed: %s", n, res.Error)}
}
