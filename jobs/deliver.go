package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/trackelio/webhooks/internal/batch"
	"github.com/trackelio/webhooks/internal/catalog"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/endpointlimit"
	"github.com/trackelio/webhooks/internal/inflight"
	"github.com/trackelio/webhooks/internal/sender"
	"github.com/trackelio/webhooks/metrics"
	"github.com/trackelio/webhooks/repo"
)

// DeliveryStore is what the deliver handler needs from Postgres. Loads and
// records come in batches: the handler's concurrent tasks share them.
type DeliveryStore interface {
	Works(ctx context.Context, deliveryIDs []string) (map[string]repo.Work, error)
	RecordAttempts(ctx context.Context, rs []repo.AttemptResult) ([]repo.Recorded, error)
	CancelDelivery(ctx context.Context, deliveryID string) error
}

// Sender makes one HTTP attempt (a *sender.Sender in the worker).
type Sender interface {
	Send(ctx context.Context, r sender.Request) sender.Result
}

// recordTimeout bounds writing an attempt that was already made, even while
// the worker shuts down, so the attempt is not repeated needlessly.
const recordTimeout = 10 * time.Second

// DeliverConfig is everything a DeliverHandler runs with; the worker and
// the tests build the same one.
type DeliverConfig struct {
	Store   DeliveryStore
	Sender  Sender
	Policy  delivery.RetryPolicy
	Metrics *metrics.Metrics
	Log     *slog.Logger
	// Limits caps in-flight attempts per webhook and adds the circuit
	// breaker; nil turns both off.
	Limits *endpointlimit.Limits
	// AutoDisable disables webhooks that keep failing; zero never does.
	AutoDisable delivery.AutoDisable
	// Notices decides when a failing webhook's owners are told; zero
	// tells only of exhausted deliveries.
	Notices delivery.NoticePolicy
	// NoticeQueue, when set, enqueues the dispatch of the notices an
	// attempt decided as soon as it is recorded; without it the outbox
	// sweep dispatches them.
	NoticeQueue TaskEnqueuer
	// Retries, when set, schedules each retry as a task on the retries
	// queue; without it a retry stays on the task's own queue.
	Retries TaskEnqueuer
	// BatchMax and BatchLinger bound the group commit of loads and
	// records (defaults 128 and 1 ms).
	BatchMax    int
	BatchLinger time.Duration
	// Now is the clock (time.Now).
	Now func() time.Time
}

// DeliverHandler performs one delivery attempt per task run. Close it to
// stop its batchers.
type DeliverHandler struct {
	cfg    DeliverConfig
	load   *batch.Batcher[string, loaded]
	record *batch.Batcher[repo.AttemptResult, repo.Recorded]
}

// loaded is one delivery's work, or its absence.
type loaded struct {
	work  repo.Work
	found bool
}

// NewDeliverHandler builds the handler for TypeDeliver.
func NewDeliverHandler(cfg DeliverConfig) *DeliverHandler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BatchMax <= 0 {
		cfg.BatchMax = 128
	}
	initSeries(cfg.Metrics)
	h := &DeliverHandler{cfg: cfg}
	h.load = batch.New(batch.Config[string, loaded]{Max: cfg.BatchMax, Linger: cfg.BatchLinger, Flush: h.loadWorks})
	h.record = batch.New(batch.Config[repo.AttemptResult, repo.Recorded]{Max: cfg.BatchMax, Linger: cfg.BatchLinger, Flush: cfg.Store.RecordAttempts})
	return h
}

// Close stops the batchers once what they hold is written.
func (h *DeliverHandler) Close() {
	h.load.Close()
	h.record.Close()
}

func (h *DeliverHandler) loadWorks(ctx context.Context, ids []string) ([]loaded, error) {
	ws, err := h.cfg.Store.Works(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]loaded, len(ids))
	for i, id := range ids {
		out[i].work, out[i].found = ws[id]
	}
	return out, nil
}

// initSeries creates every label combination the handler uses. A series
// that first appears at its first increment hides that increment from
// increase() and rate(), so the first permanent failure after a restart
// would not alert.
func initSeries(m *metrics.Metrics) {
	types := []string{delivery.TestEventType}
	for _, t := range catalog.All() {
		types = append(types, t.Type)
	}
	for _, t := range types {
		for _, o := range delivery.Outcomes {
			m.Attempts.WithLabelValues(t, string(o))
		}
		for _, st := range []delivery.Status{delivery.StatusSucceeded, delivery.StatusFailed, delivery.StatusCancelled} {
			m.Finished.WithLabelValues(t, string(st))
		}
	}
	for _, o := range delivery.Outcomes {
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

// ProcessTask implements asynq.Handler.
func (h *DeliverHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p DeliverPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.DeliveryID == "" {
		return fmt.Errorf("decode %s payload %q: %v: %w", TypeDeliver, t.Payload(), err, asynq.SkipRetry)
	}
	l, err := h.load.Do(ctx, p.DeliveryID)
	if err != nil {
		return err
	}
	if !l.found {
		h.cfg.Log.WarnContext(ctx, "delivery not found; dropping task", "delivery_id", p.DeliveryID)
		return nil
	}
	w := l.work
	// asynq may run a task again after a lost lease or a sweep; the stored
	// status is the truth.
	if w.Status != delivery.StatusPending {
		return nil
	}
	// A test event goes to a disabled webhook too: it is how a customer
	// checks a fix before re-enabling it.
	if w.WebhookDeleted || (!w.WebhookActive && !delivery.IsTest(w.EventType)) {
		if err := h.cfg.Store.CancelDelivery(ctx, w.DeliveryID); err != nil {
			return err
		}
		h.cfg.Metrics.Finished.WithLabelValues(w.EventType, string(delivery.StatusCancelled)).Inc()
		return nil
	}
	if w.NextAttemptAt != nil {
		if wait := w.NextAttemptAt.Sub(h.cfg.Now()); wait > 0 {
			return &RetryAfterError{Delay: wait, Reason: "attempt not due yet"}
		}
	}
	release := inflight.Release(func(time.Duration, bool) {})
	if limits := h.cfg.Limits; limits != nil {
		// A test event is the customer's own probe: the breaker, which
		// paces deliveries to a failing endpoint, does not hold it.
		failures := w.ConsecutiveFailures
		if delivery.IsTest(w.EventType) {
			failures = 0
		}
		wait, err := limits.BreakerWait(ctx, w.WebhookID, failures)
		if err != nil {
			return err
		}
		if wait > 0 {
			h.cfg.Metrics.Waits.WithLabelValues(waitBreakerOpen).Inc()
			return &RetryAfterError{Delay: wait, Reason: "circuit breaker open; waiting for the next probe"}
		}
		r, retryIn, err := limits.Acquire(ctx, w.WebhookID)
		if err != nil {
			return err
		}
		if r == nil {
			h.cfg.Metrics.Waits.WithLabelValues(waitInFlightCap).Inc()
			return &RetryAfterError{Delay: retryIn, Reason: "webhook at its in-flight limit"}
		}
		release = r
	}
	return h.attempt(ctx, w, release)
}

// attempt sends, decides and records. The in-flight slot is held for the
// HTTP attempt only, not while the result waits for its batch's commit.
func (h *DeliverHandler) attempt(ctx context.Context, w repo.Work, release inflight.Release) error {
	n := w.Attempts + 1
	res := h.cfg.Sender.Send(ctx, sender.Request{
		URL: w.WebhookURL, Body: w.Body, Secret: w.Secret, PreviousSecret: w.PreviousSecret,
		EventType: w.EventType, DeliveryID: w.DeliveryID,
	})
	d := delivery.Decide(res.Response(), n, w.EventType, h.cfg.Policy)
	release(res.Duration, d.Congested)
	now := h.cfg.Now()
	r := repo.AttemptResult{
		DeliveryID: w.DeliveryID, Attempt: n, StatusCode: res.StatusCode, ResponseBody: res.Body,
		ResponseTruncated: res.Truncated, ResponseHeaders: res.Headers, ResponseHeadersDropped: res.HeadersDropped, RequestHeaders: res.RequestHeaders,
		Error: res.Error, Duration: res.Duration, At: now, Succeeded: res.Outcome == delivery.Success,
		NewStatus: d.Status, DisableReason: d.DisableReason, AutoDisable: h.cfg.AutoDisable, ExcludeFromHealth: d.ExcludeFromHealth,
		Notices: h.cfg.Notices, EventID: w.EventID, EventType: w.EventType,
	}
	if d.Status == delivery.StatusPending {
		r.NextAttemptAt = now.Add(d.Delay)
	}
	recCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	rec, err := h.record.Do(recCtx, r)
	if err != nil {
		// The attempt was made but not stored: asynq runs the task again
		// soon and the same attempt number is used.
		return err
	}
	if !rec.Stored {
		h.cfg.Log.InfoContext(ctx, "attempt already recorded by another run", "delivery_id", w.DeliveryID, "attempt", n)
		return nil
	}
	h.dispatch(recCtx, rec.Notices)
	return h.report(ctx, w, r, res, d, rec)
}

// dispatch enqueues the dispatch of the notices an attempt decided. A
// failure is logged: the notices are stored, and the sweep dispatches them.
func (h *DeliverHandler) dispatch(ctx context.Context, notices []string) {
	if h.cfg.NoticeQueue == nil {
		return
	}
	for _, id := range notices {
		if err := enqueueNotice(ctx, h.cfg.NoticeQueue, id); err != nil {
			h.cfg.Log.WarnContext(ctx, "could not enqueue a notice; the outbox sweep will", "notice_id", id, "error", err)
		}
	}
}

// report counts and logs a recorded attempt and schedules the next one.
func (h *DeliverHandler) report(ctx context.Context, w repo.Work, r repo.AttemptResult, res sender.Result, d delivery.Decision, rec repo.Recorded) error {
	m := h.cfg.Metrics
	m.Attempts.WithLabelValues(w.EventType, string(res.Outcome)).Inc()
	m.AttemptDuration.WithLabelValues(string(res.Outcome)).Observe(res.Duration.Seconds())
	// Built only when a line is written: successes log at debug, which is
	// usually off, and With would allocate on every delivery.
	log := func() *slog.Logger {
		return h.cfg.Log.With("delivery_id", w.DeliveryID, "webhook_id", w.WebhookID, "event_type", w.EventType,
			"attempt", r.Attempt, "status_code", res.StatusCode, "outcome", res.Outcome, "duration_ms", res.Duration.Milliseconds())
	}
	if rec.Disabled {
		m.Disabled.Inc()
		log().WarnContext(ctx, "webhook disabled", "reason", cmp.Or(d.DisableReason, delivery.DisabledFailing))
	}
	switch d.Status {
	case delivery.StatusSucceeded:
		m.Finished.WithLabelValues(w.EventType, string(delivery.StatusSucceeded)).Inc()
		m.DeliveryLatency.Observe(r.At.Sub(w.EventCreatedAt).Seconds())
		if h.cfg.Log.Enabled(ctx, slog.LevelDebug) {
			log().DebugContext(ctx, "delivered")
		}
		return nil
	case delivery.StatusFailed:
		m.Finished.WithLabelValues(w.EventType, string(delivery.StatusFailed)).Inc()
		log().WarnContext(ctx, "delivery failed; no more attempts", "error", res.Error, "error_detail", res.Detail)
		return fmt.Errorf("delivery %s failed after %d attempts: %s: %w", w.DeliveryID, r.Attempt, res.Error, asynq.SkipRetry)
	}
	log().InfoContext(ctx, "attempt failed; will retry", "error", res.Error, "error_detail", res.Detail, "retry_in", d.Delay.String())
	if h.cfg.Retries != nil {
		task, err := NewDeliverTask(w.DeliveryID, r.Attempt, r.NextAttemptAt)
		if err != nil {
			return err
		}
		if err := enqueueOnce(ctx, h.cfg.Retries, task); err == nil {
			return nil
		}
		// This task stays and retries itself at the due time instead.
		log().WarnContext(ctx, "could not schedule the retry task", "error", err)
	}
	return &RetryAfterError{Delay: d.Delay, Failure: true, Reason: fmt.Sprintf("attempt %d failed: %s", r.Attempt, res.Error)}
}
