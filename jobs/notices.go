package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/mailer"
	"github.com/trackelio/webhooks/internal/noticemail"
	"github.com/trackelio/webhooks/metrics"
	"github.com/trackelio/webhooks/repo"
)

// Task types of failure notices: handing one notice on to its channels,
// and sending a workspace's due mails.
const (
	TypeNoticeDispatch = "notice:dispatch"
	TypeNoticeMail     = "notice:mail"
)

// noticeTaskRetries bounds asynq's retries of a notice task; the rows in
// Postgres are the truth, and the outbox sweep enqueues again what is left.
const noticeTaskRetries = 10

// NoticePayload names the notice to dispatch.
type NoticePayload struct {
	NoticeID string `json:"notice_id"`
}

// MailPayload names the workspace whose due mails to send.
type MailPayload struct {
	WorkspaceID string `json:"workspace_id"`
}

// NewNoticeTask builds the task that dispatches a notice; its TaskID is
// the notice's, so a notice is dispatched by one task at a time.
func NewNoticeTask(noticeID string) (*asynq.Task, error) {
	b, err := json.Marshal(NoticePayload{NoticeID: noticeID})
	if err != nil {
		return nil, fmt.Errorf("encode notice payload: %w", err)
	}
	return asynq.NewTask(TypeNoticeDispatch, b, asynq.TaskID("notice:"+noticeID), asynq.Queue(QueueMaintenance),
		asynq.MaxRetry(noticeTaskRetries), asynq.Timeout(time.Minute)), nil
}

// NewMailTask builds the task that sends a workspace's mails due at due.
// Its TaskID names the workspace and the second, so the notices of one
// digest window share one task.
func NewMailTask(workspaceID string, due time.Time) (*asynq.Task, error) {
	b, err := json.Marshal(MailPayload{WorkspaceID: workspaceID})
	if err != nil {
		return nil, fmt.Errorf("encode mail payload: %w", err)
	}
	due = ceilSecond(due)
	return asynq.NewTask(TypeNoticeMail, b, asynq.TaskID("mail:"+workspaceID+":"+strconv.FormatInt(due.Unix(), 10)),
		asynq.Queue(QueueMaintenance), asynq.MaxRetry(noticeTaskRetries), asynq.Timeout(5*time.Minute), asynq.ProcessAt(due)), nil
}

// enqueueNotice enqueues the dispatch of a notice; the worker after an
// attempt, the api after a change and the outbox sweep all do it this way.
func enqueueNotice(ctx context.Context, q TaskEnqueuer, noticeID string) error {
	task, err := NewNoticeTask(noticeID)
	if err != nil {
		return err
	}
	return enqueueOnce(ctx, q, task)
}

// enqueueOnce enqueues a task; one already in Redis counts as enqueued.
func enqueueOnce(ctx context.Context, q TaskEnqueuer, task *asynq.Task) error {
	if _, err := q.EnqueueContext(ctx, task); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue %s: %w", task.Type(), err)
	}
	return nil
}

// NoticeStore is what the notice handlers need from Postgres.
type NoticeStore interface {
	NoticeToDispatch(ctx context.Context, id string) (repo.NoticeDispatch, error)
	MarkNoticeDispatched(ctx context.Context, id string, addresses []string, mailAt time.Time) error
	ClaimMails(ctx context.Context, workspaceID string, now time.Time, lease time.Duration) ([]repo.Mail, error)
	RecordMail(ctx context.Context, m repo.Mail, o repo.MailOutcome) error
}

// NoticePublisher publishes a notice to the operational webhooks
// (*manage.Service).
type NoticePublisher interface {
	PublishNotice(ctx context.Context, n repo.Notice) error
}

// Mailer sends one mail (*mailer.Mailer).
type Mailer interface {
	Send(ctx context.Context, m mailer.Message) error
}

// NoticeConfig is everything the notice handlers run with.
type NoticeConfig struct {
	Store     NoticeStore
	Publisher NoticePublisher
	// Mailer sends the mails; nil sends none (SMTP_URL unset), and mails
	// already queued are dropped.
	Mailer Mailer
	// Queue enqueues the mail tasks.
	Queue TaskEnqueuer
	// PublicURL is where the dashboard and the unsubscribe links live.
	PublicURL string
	// DigestWindow is how long a notice's mail waits for others of its
	// workspace, to go out as one digest (default 1 m).
	DigestWindow time.Duration
	// MailRetry is the delay before a failed mail's next try, doubling
	// from it up to an hour (default 1 m); MailAttempts is how many tries
	// a mail gets (default 16, about ten hours).
	MailRetry    time.Duration
	MailAttempts int
	Metrics      *metrics.Metrics
	Log          *slog.Logger
	// Now is the clock (time.Now).
	Now func() time.Time
}

// NoticeHandlers hands notices on: the dispatch task publishes a notice's
// operational event and queues its mails, the mail task sends a workspace's
// due mails, one per address.
type NoticeHandlers struct{ cfg NoticeConfig }

// NewNoticeHandlers fills in the defaults.
func NewNoticeHandlers(cfg NoticeConfig) *NoticeHandlers {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DigestWindow <= 0 {
		cfg.DigestWindow = time.Minute
	}
	if cfg.MailRetry <= 0 {
		cfg.MailRetry = time.Minute
	}
	if cfg.MailAttempts <= 0 {
		cfg.MailAttempts = 16
	}
	return &NoticeHandlers{cfg: cfg}
}

// Dispatch is the handler of TypeNoticeDispatch.
func (h *NoticeHandlers) Dispatch(ctx context.Context, t *asynq.Task) error {
	var p NoticePayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.NoticeID == "" {
		return fmt.Errorf("decode %s payload %q: %v: %w", TypeNoticeDispatch, t.Payload(), err, asynq.SkipRetry)
	}
	n, err := h.cfg.Store.NoticeToDispatch(ctx, p.NoticeID)
	if errors.Is(err, repo.ErrNotFound) {
		h.cfg.Log.WarnContext(ctx, "notice not found; dropping task", "notice_id", p.NoticeID)
		return nil
	}
	if err != nil {
		return err
	}
	if n.DispatchedAt != nil {
		return nil
	}
	n.Figures.DashboardURL = dashboardLink(h.cfg.PublicURL, n.Notice)
	if err := h.cfg.Publisher.PublishNotice(ctx, n.Notice); err != nil {
		h.cfg.Metrics.NoticeFailures.WithLabelValues(metrics.ChannelOperational).Inc()
		return fmt.Errorf("publish notice %s: %w", n.ID, err)
	}
	h.cfg.Metrics.Notices.WithLabelValues(string(n.Kind), metrics.ChannelOperational).Inc()
	var mail []string
	if h.cfg.Mailer != nil {
		mail = n.Mail
	}
	// Mails of one window go out together: the window's end is their due
	// time and names their task.
	now := h.cfg.Now()
	due := now.Truncate(h.cfg.DigestWindow).Add(h.cfg.DigestWindow)
	if err := h.cfg.Store.MarkNoticeDispatched(ctx, n.ID, mail, due); err != nil {
		return err
	}
	h.cfg.Log.InfoContext(ctx, "notice dispatched", "notice_id", n.ID, "kind", n.Kind, "webhook_id", n.WebhookID,
		"workspace_id", n.WorkspaceID, "mails", len(mail))
	if len(mail) == 0 {
		return nil
	}
	task, err := NewMailTask(n.WorkspaceID, due)
	if err != nil {
		return err
	}
	if err := enqueueOnce(ctx, h.cfg.Queue, task); err != nil {
		// The mails are queued in Postgres; the sweep enqueues their task.
		h.cfg.Log.WarnContext(ctx, "could not enqueue the mail task; the outbox sweep will", "workspace_id", n.WorkspaceID, "error", err)
	}
	return nil
}

// mailLease hides a claimed mail from other claims while it is sent.
const mailLease = 5 * time.Minute

// Mail is the handler of TypeNoticeMail.
func (h *NoticeHandlers) Mail(ctx context.Context, t *asynq.Task) error {
	var p MailPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.WorkspaceID == "" {
		return fmt.Errorf("decode %s payload %q: %v: %w", TypeNoticeMail, t.Payload(), err, asynq.SkipRetry)
	}
	mails, err := h.cfg.Store.ClaimMails(ctx, p.WorkspaceID, h.cfg.Now(), mailLease)
	if err != nil {
		return err
	}
	var retryAt time.Time
	for _, m := range mails {
		o := h.send(ctx, m)
		if err := h.cfg.Store.RecordMail(context.WithoutCancel(ctx), m, o); err != nil {
			return err
		}
		if o.Status == repo.MailPending && (retryAt.IsZero() || o.NextAttemptAt.Before(retryAt)) {
			retryAt = o.NextAttemptAt
		}
	}
	if retryAt.IsZero() {
		return nil
	}
	task, err := NewMailTask(p.WorkspaceID, retryAt)
	if err != nil {
		return err
	}
	return enqueueOnce(ctx, h.cfg.Queue, task)
}

// send sends one claimed mail and says how it ended. The relay's errors
// often quote the recipient: it is blanked out before the error is logged
// or stored.
func (h *NoticeHandlers) send(ctx context.Context, m repo.Mail) repo.MailOutcome {
	now := h.cfg.Now()
	log := h.cfg.Log.With("workspace_id", m.WorkspaceID, "notices", len(m.Notices))
	if h.cfg.Mailer == nil {
		log.WarnContext(ctx, "mail dropped: SMTP_URL is not set")
		return repo.MailOutcome{Status: repo.MailFailed, Error: "mail is not configured (SMTP_URL is not set)", At: now}
	}
	items := make([]noticemail.Item, len(m.Notices))
	for i, n := range m.Notices {
		n.Figures.DashboardURL = dashboardLink(h.cfg.PublicURL, n)
		items[i] = noticemail.Item{Notice: n.Kind, Figures: n.Figures, At: n.CreatedAt}
	}
	unsubscribe := strings.TrimSuffix(h.cfg.PublicURL, "/") + "/unsubscribe/" + m.UnsubscribeToken
	c := noticemail.Compose(m.WorkspaceName, items, unsubscribe)
	err := h.cfg.Mailer.Send(ctx, mailer.Message{To: m.Address, Subject: c.Subject, Text: c.Text, HTML: c.HTML, UnsubscribeURL: unsubscribe})
	if err == nil {
		for _, n := range m.Notices {
			h.cfg.Metrics.Notices.WithLabelValues(string(n.Kind), metrics.ChannelEmail).Inc()
		}
		log.InfoContext(ctx, "notice mail sent")
		return repo.MailOutcome{Status: repo.MailSent, At: now}
	}
	h.cfg.Metrics.NoticeFailures.WithLabelValues(metrics.ChannelEmail).Inc()
	text := redact(err.Error(), m.Address)
	if mailer.Permanent(err) || m.Attempts+1 >= h.cfg.MailAttempts {
		log.WarnContext(ctx, "notice mail failed; giving up", "attempts", m.Attempts+1, "error", text)
		return repo.MailOutcome{Status: repo.MailFailed, Error: text, At: now}
	}
	delay := min(h.cfg.MailRetry<<min(m.Attempts, 10), time.Hour)
	log.WarnContext(ctx, "notice mail failed; will retry", "attempts", m.Attempts+1, "retry_in", delay.String(), "error", text)
	return repo.MailOutcome{Status: repo.MailPending, Error: text, At: now, NextAttemptAt: now.Add(delay)}
}

// redact blanks an address out of a text, whatever its case.
func redact(text, address string) string {
	return regexp.MustCompile(`(?i)`+regexp.QuoteMeta(address)).ReplaceAllString(text, "<recipient>")
}

// dashboardLink is the dashboard page of what a notice is about: the
// delivery's for delivery.exhausted, the webhook's otherwise. Empty without
// a public URL.
func dashboardLink(publicURL string, n repo.Notice) string {
	if publicURL == "" {
		return ""
	}
	base := strings.TrimSuffix(publicURL, "/") + "/dashboard/"
	if d := n.Figures.Delivery; d != nil && n.Kind == delivery.NoticeExhausted {
		return base + "deliveries/" + d.ID
	}
	return base + "webhooks/" + n.WebhookID
}
