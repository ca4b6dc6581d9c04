// Package api serves the JSON API for producers and webhook management.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/internal/ratelimit"
	"github.com/trackelio/webhooks/metrics"
	"github.com/trackelio/webhooks/repo"
)

// Store is what the API reads from Postgres itself; every change goes
// through the manage.Service the dashboard shares.
type Store interface {
	WorkspaceByKeyHash(ctx context.Context, keyHash []byte) (string, error)
	Webhook(ctx context.Context, workspaceID, id string) (repo.Webhook, error)
	Webhooks(ctx context.Context, workspaceID string) ([]repo.Webhook, error)
	Delivery(ctx context.Context, workspaceID, id string) (repo.Delivery, error)
	Attempts(ctx context.Context, deliveryID string) ([]repo.Attempt, error)
	SuccessRates(ctx context.Context, webhookIDs []string) (map[string]float64, error)
}

// Portal issues the dashboard's single-use sign-in links.
type Portal interface {
	NewLink(ctx context.Context, r *http.Request, workspaceID string) (url string, expiresAt time.Time, err error)
}

// Check is a named readiness probe.
type Check struct {
	Name string
	Fn   func(context.Context) error
}

// Config wires the API.
type Config struct {
	Store   Store
	Manage  *manage.Service
	Metrics *metrics.Metrics
	Log     *slog.Logger
	// AdminToken enables the admin routes; empty turns them off.
	AdminToken string
	// Ready lists the dependencies /readyz checks.
	Ready []Check
	// RateLimit is the sustained requests per second allowed per workspace
	// on /v1, with bursts up to RateBurst; zero turns limiting off.
	RateLimit float64
	RateBurst int
	// Monitoring, when set, is mounted at /monitoring/ behind the admin
	// token (the asynqmon UI).
	Monitoring http.Handler
	// Dashboard, when set, is mounted at /dashboard/ and Portal issues its
	// sign-in links at POST /v1/portal-sessions.
	Dashboard http.Handler
	Portal    Portal
}

// Server holds the API's dependencies.
type Server struct {
	store      Store
	manage     *manage.Service
	portal     Portal
	metrics    *metrics.Metrics
	log        *slog.Logger
	adminToken []byte
	ready      []Check
	keys       *keyCache
	limiter    *ratelimit.Keyed
}

// New returns the API's root handler.
func New(cfg Config) http.Handler {
	s := &Server{
		store: cfg.Store, manage: cfg.Manage, portal: cfg.Portal, metrics: cfg.Metrics, log: cfg.Log,
		adminToken: []byte(cfg.AdminToken), ready: cfg.Ready, keys: newKeyCache(time.Minute, 10000),
		limiter: ratelimit.New(cfg.RateLimit, cfg.RateBurst, nil),
	}
	routes := s.routes(cfg)
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	for _, rt := range routes {
		mux.Handle(rt.method+" "+rt.path, rt.h)
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	// A method-less pattern is less specific than the method ones, so it
	// only catches the methods a path does not serve: answer those in JSON
	// rather than with the mux's plain-text 405.
	for path, methods := range allowed {
		mux.Handle(path, s.methodNotAllowed(methods))
	}
	if cfg.Dashboard != nil {
		mux.Handle("/dashboard/", cfg.Dashboard)
		mux.Handle("GET /dashboard", http.RedirectHandler("/dashboard/", http.StatusMovedPermanently))
		mux.Handle("GET /favicon.ico", cfg.Dashboard)
		// A failure notice's unsubscribe link, which works without signing in.
		mux.Handle("/unsubscribe/", cfg.Dashboard)
	}
	if cfg.Monitoring != nil {
		mux.Handle("/monitoring/", s.admin(func(w http.ResponseWriter, r *http.Request) error {
			cfg.Monitoring.ServeHTTP(w, r)
			return nil
		}))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.log, &Error{Status: http.StatusNotFound, Code: codeNotFound, Message: "no route for " + r.Method + " " + r.URL.Path})
	})
	return s.instrument(mux)
}

// routes is the route table: every method and path the server answers
// besides the dashboard, the monitoring UI and the catch-all 404.
func (s *Server) routes(cfg Config) []route {
	routes := []route{
		{"GET", "/healthz", http.HandlerFunc(s.healthz)},
		{"GET", "/readyz", http.HandlerFunc(s.readyz)},
		{"GET", "/v1/openapi.json", http.HandlerFunc(serveOpenAPI)},
		{"POST", "/v1/admin/workspaces", s.admin(s.createWorkspace)},
		{"GET", "/v1/event-types", s.authed(s.listEventTypes)},
		{"POST", "/v1/events", s.authed(s.createEvent)},
		{"POST", "/v1/webhooks", s.authed(s.createWebhook)},
		{"GET", "/v1/webhooks", s.authed(s.listWebhooks)},
		{"GET", "/v1/webhooks/{id}", s.authed(s.getWebhook)},
		{"PATCH", "/v1/webhooks/{id}", s.authed(s.updateWebhook)},
		{"DELETE", "/v1/webhooks/{id}", s.authed(s.deleteWebhook)},
		{"GET", "/v1/webhooks/{id}/secret", s.authed(s.getWebhookSecret)},
		{"GET", "/v1/webhooks/{id}/deliveries", s.authed(s.listDeliveries)},
		{"POST", "/v1/webhooks/{id}/recover", s.authed(s.recoverDeliveries)},
		{"POST", "/v1/webhooks/{id}/test", s.authed(s.testWebhook)},
		{"POST", "/v1/webhooks/{id}/rotate-secret", s.authed(s.rotateSecret)},
		{"GET", "/v1/deliveries/{id}", s.authed(s.getDelivery)},
		{"POST", "/v1/deliveries/{id}/redeliver", s.authed(s.redeliver)},
	}
	if cfg.Portal != nil {
		routes = append(routes, route{"POST", "/v1/portal-sessions", s.authed(s.createPortalSession)})
	}
	return routes
}

// route is one method and path pattern with its handler.
type route struct {
	method, path string
	h            http.Handler
}

func (s *Server) methodNotAllowed(methods []string) http.Handler {
	allow := strings.Join(methods, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, r, s.log, &Error{Status: http.StatusMethodNotAllowed, Code: codeMethodNotAllowed, Message: r.Method + " is not allowed here; use " + allow})
	})
}

// handlerFunc is a handler that returns its error for writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// instrument records request counts and latency by route pattern, which
// keeps label values bounded whatever paths clients send.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" || route == "/" {
			route = "unmatched"
		}
		s.metrics.HTTPRequests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
		s.metrics.HTTPDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}
