package client_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/testclock"
	"github.com/trackelio/webhooks/internal/testreceiver"
)

// The event data of these tests, in the shapes the catalog's schemas take.
var (
	postCreated    = json.RawMessage(`{"post":{"id":"post_1","title":"Dark mode","body":"Please add a dark theme.","status":"open","board":{"id":"board_1","name":"Ideas"},"author":{"id":"user_1","name":"Ana"}},"source":"widget"}`)
	commentCreated = json.RawMessage(`{"comment":{"id":"cmt_1","body":"Same here","author":{"id":"user_2","name":"Ben"}},"post":{"id":"post_1","title":"Dark mode"}}`)
)

// script is a loopback server that answers each request with its next
// step and records what it received, for tests that choose the answers
// the api cannot be made to give on demand.
type script struct {
	URL string

	tb    testing.TB
	mu    sync.Mutex
	steps []step
	got   []received
}

// step answers one request.
type step func(w http.ResponseWriter, r *http.Request)

// received is a request as the server read it.
type received struct {
	Method, Path, RawQuery string // Path as sent, escapes kept
	Header                 http.Header
	Body                   string
}

func newScript(tb testing.TB, steps ...step) *script {
	tb.Helper()
	s := &script{tb: tb, steps: steps}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func (s *script) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.got = append(s.got, received{Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body)})
	var next step
	if len(s.steps) > 0 {
		next, s.steps = s.steps[0], s.steps[1:]
	}
	s.mu.Unlock()
	if next == nil {
		s.tb.Errorf("unscripted request %s %s", r.Method, r.URL)
		http.Error(w, "unscripted", http.StatusTeapot)
		return
	}
	next(w, r)
}

// requests returns what the server received so far.
func (s *script) requests() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

// reply answers status with body and header pairs (name, value, ...).
func reply(status int, body string, header ...string) step {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// apiError is the API's error body.
func apiError(code, message, field string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": message, "field": field}})
	return string(b)
}

// The answers the scripted tests use.
var (
	unavailable = reply(503, apiError("unavailable", "the service cannot reach its database", ""), "Retry-After", "2")
	rateLimited = reply(429, apiError("rate_limited", "too many requests for this workspace", ""), "Retry-After", "1")
	internal    = reply(500, apiError("internal", "internal error; it has been logged", ""))
	badGateway  = reply(502, "<html><body>502 Bad Gateway</body></html>")
	accepted    = reply(202, `{"id":"0196f2a4-0000-7000-8000-000000000001","deliveries":1}`)
	hookJSON    = `{"id":"0196f2a4-0000-7000-8000-0000000000aa","url":"https://hooks.acme.example/t","events":["post.created"],"active":true,"description":"","failure_count":0,"consecutive_failures":0,"disabled_reason":null,"disabled_at":null,"last_success_at":null,"last_failure_at":null,"success_rate_24h":null,"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z"}`
	hookOK      = reply(200, hookJSON)
	hookCreated = reply(201, hookJSON)
	noContent   = reply(204, "")
)

// resetConn resets the connection without answering, as a crashed server
// or a dropped network path does after the request was sent.
func resetConn(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// fakeTime is the clock and sleep of a scripted client: a wait advances
// the clock at once and is recorded.
type fakeTime struct {
	clock *testclock.Clock
	mu    sync.Mutex
	waits []time.Duration
}

func (f *fakeTime) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	f.waits = append(f.waits, d)
	f.mu.Unlock()
	f.clock.Advance(d)
	return nil
}

func (f *fakeTime) recorded() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.waits...)
}

// scriptOptions adjust a scripted client.
type scriptOptions struct {
	// refuse is how many connections fail to open (a real refused
	// connection, to a closed loopback port) before they go through.
	refuse int
	opts   []client.Option
}

// client returns a client of the script's server whose waits are fake and
// whose jitter is always one half.
func (s *script) client(tb testing.TB, o scriptOptions) (*client.Client, *fakeTime) {
	tb.Helper()
	ft := &fakeTime{clock: testclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))}
	closed := testreceiver.ClosedAddr(tb)
	var refuse atomic.Int64
	refuse.Store(int64(o.refuse))
	var d net.Dialer
	transport := &http.Transport{
		// One connection per request, so each attempt is one request the
		// server sees and the transport's own replays of a request on a
		// reused connection do not blur the count.
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if refuse.Add(-1) >= 0 {
				addr = closed
			}
			return d.DialContext(ctx, network, addr)
		},
	}
	tb.Cleanup(transport.CloseIdleConnections)
	opts := append([]client.Option{
		client.WithHTTPClient(&http.Client{Transport: transport}),
		client.WithClock(ft.clock.Now, ft.sleep),
		client.WithJitter(0.5),
	}, o.opts...)
	c, err := client.New(s.URL, "trk_test_key", opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return c, ft
}

const (
	hookID     = "0196f2a4-0000-7000-8000-0000000000aa"
	deliveryID = "0196f2a4-0000-7000-8000-0000000000dd"
)

// op is one client method, called as a test would.
type op func(ctx context.Context, c *client.Client) error

var (
	publish op = func(ctx context.Context, c *client.Client) error {
		_, err := c.Publish(ctx, "post.created", postCreated)
		return err
	}
	createHook op = func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateWebhook(ctx, client.CreateWebhookParams{URL: "https://hooks.acme.example/t", Events: []string{"post.created"}})
		return err
	}
	getHook op = func(ctx context.Context, c *client.Client) error {
		_, err := c.GetWebhook(ctx, hookID)
		return err
	}
	updateHook op = func(ctx context.Context, c *client.Client) error {
		_, err := c.UpdateWebhook(ctx, hookID, client.UpdateWebhookParams{Active: new(false)})
		return err
	}
	deleteHook op = func(ctx context.Context, c *client.Client) error {
		return c.DeleteWebhook(ctx, hookID)
	}
	rotate op = func(ctx context.Context, c *client.Client) error {
		_, err := c.RotateWebhookSecret(ctx, hookID, time.Hour)
		return err
	}
	testEvent op = func(ctx context.Context, c *client.Client) error {
		_, err := c.SendTestEvent(ctx, hookID)
		return err
	}
	redeliver op = func(ctx context.Context, c *client.Client) error {
		_, err := c.Redeliver(ctx, deliveryID)
		return err
	}
	recoverFor = func(dryRun bool) op {
		return func(ctx context.Context, c *client.Client) error {
			_, err := c.Recover(ctx, hookID, client.RecoverParams{Since: time.Now().Add(-time.Hour), DryRun: dryRun})
			return err
		}
	}
	portal op = func(ctx context.Context, c *client.Client) error {
		_, err := c.CreatePortalSession(ctx)
		return err
	}
)
