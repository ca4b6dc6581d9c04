// Package manage is the one path for every change made to a workspace's
// data, whoever asks: creating workspaces; creating, changing and deleting
// webhooks and rotating their secrets; publishing events; redeliveries and
// recoveries; test events. Each operation checks what was submitted, stores
// the change and hands the deliveries it creates to the workers, so a rule
// never differs between the JSON API and the dashboard: they only decode
// their input, call manage and render the outcome. It also reads what its
// operations decide on and show, such as a delivery history or a recovery
// offer.
//
// It is not an HTTP layer: status codes, headers, forms and request parsing
// are the front ends'. It does not keep the front ends' own sign-in state
// (API key look-ups, dashboard sessions, portal links, flash notices), nor
// their plain reads for display. It is not the store (SQL is package
// repo's), and not the worker: attempts, the outbox sweep and data
// retention are package jobs', and the rules of retries and webhook health
// package delivery's.
package manage

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trackelio/webhooks/internal/catalog"
	"github.com/trackelio/webhooks/internal/destination"
	"github.com/trackelio/webhooks/metrics"
	"github.com/trackelio/webhooks/repo"
)

// Store is what the operations need from PostgreSQL.
type Store interface {
	CreateWorkspace(ctx context.Context, name string, keyHash []byte) (repo.Workspace, error)
	CreateEvent(ctx context.Context, ev repo.NewEvent) (repo.AcceptedEvent, error)
	CreateWebhook(ctx context.Context, workspaceID string, in repo.NewWebhook, max int) (repo.Webhook, error)
	UpdateWebhook(ctx context.Context, workspaceID, id string, p repo.WebhookPatch) (repo.UpdatedWebhook, error)
	DeleteWebhook(ctx context.Context, workspaceID, id string) error
	RotateSecret(ctx context.Context, workspaceID, id, newSecret string, graceEnds time.Time) (repo.Webhook, error)
	Webhook(ctx context.Context, workspaceID, id string) (repo.Webhook, error)
	Delivery(ctx context.Context, workspaceID, id string) (repo.Delivery, error)
	Attempts(ctx context.Context, deliveryID string) ([]repo.Attempt, error)
	Redeliver(ctx context.Context, workspaceID, id string) (string, error)
	RecoveryStart(ctx context.Context, workspaceID, webhookID string, failingSince time.Time) (time.Time, error)
	SetRecoveryOffer(ctx context.Context, workspaceID, id string, since, until time.Time) error
	ClearRecoveryOffer(ctx context.Context, workspaceID, id string) error
	CountPending(ctx context.Context, workspaceID, webhookID string, limit int) (int, error)
	CountRecoverable(ctx context.Context, workspaceID, webhookID string, win repo.RecoverWindow) (int, error)
	Recover(ctx context.Context, workspaceID, webhookID string, win repo.RecoverWindow) ([]string, error)
	CreateTestEvent(ctx context.Context, ev repo.NewEvent, webhookID string) (string, error)
	Deliveries(ctx context.Context, workspaceID, webhookID string, f repo.DeliveryFilter, at *repo.Cursor, limit int) ([]repo.Delivery, error)
	OperationalWorkspace(ctx context.Context) (string, bool, error)
}

// Enqueuer hands committed deliveries, and the notices changes decide, to
// the workers.
type Enqueuer interface {
	EnqueueDelivery(ctx context.Context, deliveryID string) error
	EnqueueNotice(ctx context.Context, noticeID string) error
}

// Config wires a Service. Zero values are usable defaults, except Store and
// Enqueuer.
type Config struct {
	Store    Store
	Enqueuer Enqueuer
	Log      *slog.Logger
	// Metrics counts the events Publish accepts and their deliveries; nil
	// counts them on a registry of their own.
	Metrics *metrics.Metrics
	// CheckURL vets a webhook URL (scheme, form, and literal addresses the
	// destination guard refuses); nil uses a guard with no allowlist.
	CheckURL func(raw string) error
	// MaxWebhooks caps live webhooks per workspace (DefaultMaxWebhooks).
	MaxWebhooks int
	// TestWait bounds how long SendTest waits for the worker's attempt.
	TestWait time.Duration
	// Now is the clock (time.Now).
	Now func() time.Time
}

// DefaultMaxWebhooks is the per-workspace webhook limit when none is set.
const DefaultMaxWebhooks = 100

// Service performs the operations; it is safe for concurrent use.
type Service struct {
	store    Store
	enqueuer Enqueuer
	log      *slog.Logger
	metrics  *metrics.Metrics
	checkURL func(string) error
	maxHooks int
	testWait time.Duration
	now      func() time.Time
	schemas  *catalog.Schemas

	// soon bounds the enqueues enqueueSoon runs in the background; soonWG
	// is what Wait waits for.
	soon   chan struct{}
	soonWG sync.WaitGroup
}

// maxEnqueuesSoon is how many background enqueues may wait on Redis at
// once: a few seconds of a busy api's events while Redis is down.
const maxEnqueuesSoon = 4096

// New returns a Service.
func New(cfg Config) *Service {
	s := &Service{
		store: cfg.Store, enqueuer: cfg.Enqueuer, log: cfg.Log, metrics: cfg.Metrics, checkURL: cfg.CheckURL,
		maxHooks: cfg.MaxWebhooks, testWait: cfg.TestWait, now: cfg.Now,
		schemas: catalog.MustLoadSchemas(), soon: make(chan struct{}, maxEnqueuesSoon),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.metrics == nil {
		s.metrics = metrics.New(prometheus.NewRegistry())
	}
	if s.checkURL == nil {
		s.checkURL = destination.New(destination.Config{}).CheckURL
	}
	if s.maxHooks <= 0 {
		s.maxHooks = DefaultMaxWebhooks
	}
	if s.testWait <= 0 {
		s.testWait = 15 * time.Second
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// enqueueTimeout bounds the enqueue after a commit, which no longer follows
// its caller's cancellation.
const enqueueTimeout = 5 * time.Second

// enqueue hands committed deliveries to the workers. A failure is logged, not
// returned: the deliveries are safe in PostgreSQL and the outbox sweep
// enqueues them later, so the caller must not retry and duplicate them. The
// tasks of a fan-out are enqueued at once, so they share a Redis round trip.
// The deliveries are committed, so a caller that has gone (a client that
// hung up) does not cancel their enqueue: they go out at once rather than
// after the sweep's grace.
func (s *Service) enqueue(ctx context.Context, ids []string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), enqueueTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			if err := s.enqueuer.EnqueueDelivery(ctx, id); err != nil {
				s.log.WarnContext(ctx, "enqueue failed; the outbox sweep will retry", "delivery_id", id, "error", err)
			}
		})
	}
	wg.Wait()
}

// enqueueSoon is enqueue run in the background, so no caller waits on
// Redis: an HTTP connection is free for its next request while Redis is
// slow or down. Beyond maxEnqueuesSoon waiting at once the caller enqueues
// itself, slowing its producer rather than piling up goroutines. Wait waits
// for the background ones.
func (s *Service) enqueueSoon(ctx context.Context, ids []string) {
	select {
	case s.soon <- struct{}{}:
		s.soonWG.Go(func() {
			defer func() { <-s.soon }()
			s.enqueue(ctx, ids)
		})
	default:
		s.enqueue(ctx, ids)
	}
}

// Wait returns once every enqueue started in the background has ended
// (each is bounded by enqueueTimeout): a stopping api calls it after its
// last request.
func (s *Service) Wait() { s.soonWG.Wait() }

// FieldError is a submitted value that was refused, with a message for the
// person who typed it.
type FieldError struct {
	Field   string
	Message string
}

// FieldErrors lists every refused field of one submission, in form order.
// The API answers the first (422 naming it); the dashboard shows each beside
// its field.
type FieldErrors []FieldError

func (e FieldErrors) Error() string {
	parts := make([]string, len(e))
	for i, f := range e {
		parts[i] = f.Message
	}
	return strings.Join(parts, "; ")
}

// For returns the message for a field, or "".
func (e FieldErrors) For(field string) string {
	for _, f := range e {
		if f.Field == field {
			return f.Message
		}
	}
	return ""
}

// invalid is a submission refused for one field.
func invalid(field, format string, args ...any) FieldErrors {
	return FieldErrors{{Field: field, Message: fmt.Sprintf(format, args...)}}
}

// Refusal is an operation the resource's current state does not allow; the
// API answers 409 with Code.
type Refusal struct {
	Code    string
	Message string
}

func (e *Refusal) Error() string { return e.Message }

// inactive refuses an action on an inactive webhook.
func inactive(action string) *Refusal {
	return &Refusal{Code: "webhook_inactive", Message: "the webhook is inactive; activate it before " + action}
}

// TestTimeout says no attempt of a test delivery arrived within the wait;
// the delivery stays in the history and will still be attempted.
type TestTimeout struct {
	DeliveryID string
	Waited     time.Duration
}

func (e *TestTimeout) Error() string {
	return fmt.Sprintf("no attempt within %s; delivery %s stays in the history and will still be attempted", e.Waited, e.DeliveryID)
}
