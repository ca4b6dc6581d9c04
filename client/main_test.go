package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/api"
	"github.com/trackelio/webhooks/internal/dashboard"
	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/internal/queuetest"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testmain"
	"github.com/trackelio/webhooks/metrics"
	"github.com/trackelio/webhooks/repo"
)

// adminToken is the ADMIN_TOKEN of every api these tests start.
const adminToken = "client-test-admin-token"

// exampleAPI is the real api the Example functions talk to, at apiURL;
// they get no *testing.T to start one with.
var (
	exampleAPI *realAPI
	apiURL     string
)

func TestMain(m *testing.M) {
	os.Exit(testmain.Run(m, func(tb testing.TB) {
		exampleAPI = startAPI(tb)
		apiURL = exampleAPI.URL
	}))
}

// realAPI is the api package's handler, with the dashboard that issues
// portal links, on its own database and served on loopback. Deliveries are
// handed to an in-memory Enqueuer: delivering them is not this package's
// subject.
type realAPI struct {
	URL    string
	store  *repo.Store
	db     *sqlx.DB // a direct pool, for looking at rows
	enq    *queuetest.Recorder
	manage *manage.Service
}

// startAPI starts the api on a fresh database; opts adjust its config.
func startAPI(tb testing.TB, opts ...func(*api.Config)) *realAPI {
	tb.Helper()
	store, db := dbtest.NewStoreAndDB(tb)
	return startAPIOn(tb, store, db, opts...)
}

// startAPIOn starts the api on store, db being a direct pool on its
// database.
func startAPIOn(tb testing.TB, store *repo.Store, db *sqlx.DB, opts ...func(*api.Config)) *realAPI {
	tb.Helper()
	log := slog.New(slog.DiscardHandler)
	enq := &queuetest.Recorder{}
	svc := manage.New(manage.Config{Store: store, Enqueuer: enq, Log: log})
	dash := dashboard.New(dashboard.Config{Store: store, Manage: svc, Log: log})
	cfg := api.Config{
		Store: store, Manage: svc, Metrics: metrics.New(prometheus.NewRegistry()), Log: log,
		AdminToken: adminToken, Dashboard: dash, Portal: dash,
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv := httptest.NewServer(api.New(cfg))
	// Cleanups run last first: the server stops, then the background
	// enqueues end, then the store closes.
	tb.Cleanup(svc.Wait)
	tb.Cleanup(srv.Close)
	return &realAPI{URL: srv.URL, store: store, db: db, enq: enq, manage: svc}
}

// createWorkspace creates a workspace through the admin route and returns
// its API key.
func (a *realAPI) createWorkspace(name string) (string, error) {
	body, _ := json.Marshal(map[string]string{"name": name})
	req, err := http.NewRequest(http.MethodPost, a.URL+"/v1/admin/workspaces", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var ws struct {
		APIKey string `json:"api_key"`
	}
	if err := json.NewDecoder(res.Body).Decode(&ws); err != nil || res.StatusCode != http.StatusCreated || ws.APIKey == "" {
		return "", fmt.Errorf("create workspace: %d, %v", res.StatusCode, err)
	}
	return ws.APIKey, nil
}

// mustWorkspace creates a workspace and returns its API key.
func (a *realAPI) mustWorkspace(tb testing.TB, name string) string {
	tb.Helper()
	key, err := a.createWorkspace(name)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

// newAPIKey is a new workspace's API key on the examples' api, so each
// example starts from an empty workspace.
func newAPIKey(name string) string {
	key, err := exampleAPI.createWorkspace(name)
	if err != nil {
		panic(err)
	}
	return key
}

// mustRecordAttempt stores an attempt as the worker does.
func (a *realAPI) mustRecordAttempt(tb testing.TB, r repo.AttemptResult) {
	tb.Helper()
	if r.At.IsZero() {
		r.At = time.Now()
	}
	testfactory.Record(tb, a.store, r)
}

// recorder is an http.RoundTripper that keeps each exchange, so tests see
// the headers every attempt sent and the exact JSON the api answered.
type recorder struct {
	mu        sync.Mutex
	exchanges []exchange
}

type exchange struct {
	Method, Path string
	Header       http.Header
	Status       int // 0 when no answer came
	Body         []byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	ex := exchange{Method: req.Method, Path: req.URL.Path, Header: req.Header.Clone()}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		ex.Status = res.StatusCode
		ex.Body, err = io.ReadAll(res.Body)
		res.Body.Close()
		res.Body = io.NopCloser(bytes.NewReader(ex.Body))
	}
	r.mu.Lock()
	r.exchanges = append(r.exchanges, ex)
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return res, nil
}

// last is the latest exchange.
func (r *recorder) last(tb testing.TB) exchange {
	tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.exchanges) == 0 {
		tb.Fatal("no request was sent")
	}
	return r.exchanges[len(r.exchanges)-1]
}

// all returns the exchanges so far.
func (r *recorder) all() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]exchange(nil), r.exchanges...)
}

// client returns a client of the api for a workspace's key, and the
// recorder its requests go through.
func (a *realAPI) client(tb testing.TB, key string, opts ...client.Option) (*client.Client, *recorder) {
	tb.Helper()
	rec := &recorder{}
	c, err := client.New(a.URL, key, append([]client.Option{client.WithHTTPClient(&http.Client{Transport: rec})}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	return c, rec
}

// setup starts an api with one workspace and returns a client of it.
func setup(tb testing.TB, opts ...func(*api.Config)) (*realAPI, *client.Client, *recorder) {
	tb.Helper()
	a := startAPI(tb, opts...)
	c, rec := a.client(tb, a.mustWorkspace(tb, "Acme"))
	return a, c, rec
}

// setupWithHook is setup with an active webhook of the workspace
// subscribed to events.
func setupWithHook(tb testing.TB, events ...string) (*realAPI, *client.Client, *recorder, client.Webhook) {
	tb.Helper()
	a, c, rec := setup(tb)
	return a, c, rec, mustWebhook(tb, c, events...)
}

// mustWebhook creates an active webhook subscribed to events.
func mustWebhook(tb testing.TB, c *client.Client, events ...string) client.Webhook {
	tb.Helper()
	hook, err := c.CreateWebhook(context.Background(), client.CreateWebhookParams{URL: "https://hooks.acme.example/t", Events: events})
	if err != nil {
		tb.Fatal(err)
	}
	return hook
}

// mustPublish publishes an event and wants it accepted.
func mustPublish(tb testing.TB, c *client.Client, eventType string, data any, opts ...client.PublishOption) client.Event {
	tb.Helper()
	ev, err := c.Publish(context.Background(), eventType, data, opts...)
	if err != nil {
		tb.Fatalf("Publish %s: %v", eventType, err)
	}
	return ev
}
