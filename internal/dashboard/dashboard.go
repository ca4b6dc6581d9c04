// Package dashboard serves the customer dashboard under /dashboard/: the
// pages the webhooks documentation sends customers to (Workspaces >
// Webhooks, Create Webhook, the webhook detail page with its delivery
// history) and a page per delivery.
//
// Pages are rendered on the server from embedded html/template files,
// parsed once, with a typed view per page; CSS and a little JavaScript are
// embedded too, so the dashboard works offline and, but for copying to the
// clipboard and the live test result, without JavaScript. Every change goes
// through manage.Service, the same code the JSON API calls.
//
// Access is by a single-use portal link that the Trackelio app's backend
// asks for (POST /v1/portal-sessions) and opens in an iframe or a redirect,
// or by signing in with a workspace API key. Sessions live in PostgreSQL, so
// any api replica serves them and signing out revokes one. Every form that
// changes something carries a CSRF token derived from the session; pages are
// served with a strict Content-Security-Policy whose frame-ancestors name
// only the origins allowed to embed them.
//
// Failure notices show on the list (a banner naming the webhooks in
// trouble) and on a webhook's page (what is wrong and what to do, and the
// notices sent with each mail's fate); their mails link to
// /unsubscribe/{token}, which works without a session.
package dashboard

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/internal/ratelimit"
	"github.com/trackelio/webhooks/repo"
)

// Store is what the pages read from PostgreSQL, and the dashboard's own
// sign-in state kept there (portal links, sessions, flash notices); every
// change to a workspace's data goes through manage.
type Store interface {
	WorkspaceByKeyHash(ctx context.Context, keyHash []byte) (string, error)
	CreatePortalLink(ctx context.Context, tokenHash []byte, workspaceID string, expiresAt time.Time) error
	PortalLinkAt(ctx context.Context, linkHash []byte, now time.Time) (repo.PortalLink, error)
	StartSessionFromLink(ctx context.Context, linkHash, sessionHash []byte, now, sessionExpires time.Time) (string, error)
	CreateSession(ctx context.Context, sessionHash []byte, workspaceID string, now, expires time.Time) error
	SessionAt(ctx context.Context, sessionHash []byte, now time.Time) (repo.Session, error)
	DeleteSession(ctx context.Context, sessionHash []byte) error
	Webhooks(ctx context.Context, workspaceID string) ([]repo.Webhook, error)
	Webhook(ctx context.Context, workspaceID, id string) (repo.Webhook, error)
	SuccessRates(ctx context.Context, webhookIDs []string) (map[string]float64, error)
	LastAttempts(ctx context.Context, webhookIDs []string) (map[string]repo.LastAttempt, error)
	HourlyCounts(ctx context.Context, workspaceID, webhookID string, since time.Time) ([]repo.HourCount, error)
	Delivery(ctx context.Context, workspaceID, id string) (repo.Delivery, error)
	EventBody(ctx context.Context, workspaceID, eventID string) ([]byte, error)
	Attempts(ctx context.Context, deliveryID string) ([]repo.Attempt, error)
	CreateFlash(ctx context.Context, tokenHash, sessionHash []byte, f repo.Flash, now, expires time.Time) error
	TakeFlash(ctx context.Context, tokenHash, sessionHash []byte, now time.Time) (repo.Flash, error)
	WebhookTrouble(ctx context.Context, workspaceID, webhookID string) (repo.Trouble, error)
	WebhookNotices(ctx context.Context, workspaceID, webhookID string, limit int) ([]repo.Notice, error)
	NoticeMails(ctx context.Context, workspaceID string, noticeIDs []string) ([]repo.NoticeMail, error)
	SubscriptionByToken(ctx context.Context, token string) (repo.Subscription, error)
	Unsubscribe(ctx context.Context, token string) (repo.Subscription, error)
}

// Config wires the dashboard. Zero durations take the defaults below.
type Config struct {
	Store  Store
	Manage *manage.Service
	Log    *slog.Logger
	// PublicURL is the api's address as browsers reach it, such as
	// https://webhooks.trackelio.com; portal links are built on it. Empty
	// builds them on the request's host only when that is a loopback
	// address (development), and refuses the others: a Host header is the
	// caller's to set.
	PublicURL string
	// LinkTTL is how long a portal link may wait to be opened.
	LinkTTL time.Duration
	// SessionTTL is how long a session lasts.
	SessionTTL time.Duration
	// FrameAncestors are the origins allowed to embed the pages in a frame;
	// none forbids framing.
	FrameAncestors []string
	// TrustedProxies are the addresses of the proxies in front of the api
	// whose X-Forwarded-For names the client; failed sign-ins are limited
	// per client.
	TrustedProxies []netip.Prefix
	// Retry is the workers' retry policy (RETRY_SCHEDULE), with which the
	// pages say attempt n of N and when a delivery gives up; a zero one is
	// the default schedule's.
	Retry delivery.RetryPolicy
	// AutoDisable is the workers' policy for disabling a failing webhook
	// (WEBHOOK_DISABLE_AFTER, WEBHOOK_DISABLE_MIN_FAILURES), with which a
	// failing webhook's page says when it will be disabled; a zero one
	// says nothing of it.
	AutoDisable delivery.AutoDisable
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Defaults of Config.
const (
	DefaultLinkTTL    = 5 * time.Minute
	DefaultSessionTTL = 12 * time.Hour
)

// Dashboard serves the pages and issues portal links.
type Dashboard struct {
	store     Store
	manage    *manage.Service
	log       *slog.Logger
	publicURL string
	linkTTL   time.Duration
	sessTTL   time.Duration
	framed    bool
	csp       string
	now       func() time.Time
	pages     *pages
	events    []eventInfo
	retry     delivery.RetryPolicy
	disable   delivery.AutoDisable
	proxies   []netip.Prefix
	// signIns limits failed sign-ins per client address.
	signIns *ratelimit.Keyed
	mux     *http.ServeMux
}

// New builds the dashboard; it panics if the embedded templates do not
// parse, which a test of the package catches.
func New(cfg Config) *Dashboard {
	d := &Dashboard{
		store: cfg.Store, manage: cfg.Manage, log: cfg.Log, publicURL: cfg.PublicURL,
		linkTTL: cfg.LinkTTL, sessTTL: cfg.SessionTTL, framed: len(cfg.FrameAncestors) > 0,
		csp: contentSecurityPolicy(cfg.FrameAncestors), now: cfg.Now, pages: mustParsePages(),
		events: newEventInfo(cfg.Manage.Contracts()), retry: cfg.Retry, disable: cfg.AutoDisable, proxies: cfg.TrustedProxies,
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.linkTTL <= 0 {
		d.linkTTL = DefaultLinkTTL
	}
	if d.sessTTL <= 0 {
		d.sessTTL = DefaultSessionTTL
	}
	if d.now == nil {
		d.now = time.Now
	}
	d.signIns = ratelimit.New(failedSignInsPerSecond, failedSignInsBurst, d.now)
	if len(d.retry.Schedule) == 0 {
		d.retry.Schedule = delivery.MustParseSchedule(delivery.DefaultSchedule)
	}
	d.routes()
	return d
}

func (d *Dashboard) routes() {
	m := http.NewServeMux()
	m.Handle("GET /dashboard/{$}", d.signedIn(func(w http.ResponseWriter, r *http.Request, _ *visit) error {
		http.Redirect(w, r, pathWebhooks, http.StatusSeeOther)
		return nil
	}))
	m.Handle("GET /dashboard/login", d.public(d.loginForm))
	m.Handle("POST /dashboard/login", d.public(d.login))
	m.Handle("POST /dashboard/logout", d.signedIn(d.logout))
	m.Handle("GET /dashboard/session/{token}", d.public(d.openPortalLink))
	m.Handle("POST /dashboard/session/{token}", d.signedIn(d.switchWorkspace))
	m.Handle("GET /dashboard/webhooks", d.signedIn(d.webhookList))
	m.Handle("GET /dashboard/webhooks/new", d.signedIn(d.webhookNew))
	m.Handle("POST /dashboard/webhooks", d.signedIn(d.webhookCreate))
	m.Handle("GET /dashboard/webhooks/{id}", d.signedIn(d.webhookDetail))
	m.Handle("GET /dashboard/webhooks/{id}/created", d.signedIn(d.webhookCreated))
	m.Handle("POST /dashboard/webhooks/{id}", d.signedIn(d.webhookUpdate))
	m.Handle("GET /dashboard/webhooks/{id}/delete", d.signedIn(d.webhookDeleteForm))
	m.Handle("POST /dashboard/webhooks/{id}/delete", d.signedIn(d.webhookDelete))
	m.Handle("POST /dashboard/webhooks/{id}/secret", d.signedIn(d.webhookRevealSecret))
	m.Handle("POST /dashboard/webhooks/{id}/rotate-secret", d.signedIn(d.webhookRotateSecret))
	m.Handle("POST /dashboard/webhooks/{id}/test", d.signedIn(d.webhookTest))
	m.Handle("POST /dashboard/webhooks/{id}/recover", d.signedIn(d.webhookRecover))
	m.Handle("POST /dashboard/webhooks/{id}/recover/dismiss", d.signedIn(d.webhookDismissRecovery))
	m.Handle("GET /dashboard/deliveries/{id}", d.signedIn(d.deliveryDetail))
	m.Handle("GET /dashboard/deliveries/{id}/body", d.signedIn(d.deliveryBody))
	m.Handle("POST /dashboard/deliveries/{id}/redeliver", d.signedIn(d.deliveryRedeliver))
	// Unsubscribing needs no session: the token in the path is the
	// capability, and a mail client posts it without any cookie or CSRF
	// token (RFC 8058).
	m.Handle("GET "+pathUnsubscribe+"{token}", d.public(d.unsubscribeForm))
	m.Handle("POST "+pathUnsubscribe+"{token}", d.public(d.unsubscribe))
	m.Handle("GET /dashboard/static/{file}", http.HandlerFunc(serveStatic))
	m.Handle("GET /favicon.ico", http.HandlerFunc(serveFavicon))
	m.Handle("/dashboard/", d.public(func(w http.ResponseWriter, r *http.Request) error { return errPageNotFound }))
	d.mux = m
}

// ServeHTTP serves the pages under /dashboard/, the unsubscribe links of
// failure notices' mails under /unsubscribe/, and /favicon.ico.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mux.ServeHTTP(w, r)
}

// Paths the pages link to.
const (
	pathLogin       = "/dashboard/login"
	pathWebhooks    = "/dashboard/webhooks"
	pathUnsubscribe = "/unsubscribe/"
)

func webhookPath(id string) string  { return pathWebhooks + "/" + id }
func deliveryPath(id string) string { return "/dashboard/deliveries/" + id }
