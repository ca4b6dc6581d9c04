package sender_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/destination"
	"github.com/trackelio/webhooks/internal/sender"
	"github.com/trackelio/webhooks/internal/testreceiver"
	"github.com/trackelio/webhooks/signature"
)

const testUserAgent = "Trackelio-Webhooks/test"

// newReceiver starts a loopback receiver that records every request and
// answers with handle (204 when nil).
func newReceiver(tb testing.TB, handle http.HandlerFunc) *testreceiver.Receiver {
	tb.Helper()
	cfg := testreceiver.Config{}
	if handle != nil {
		cfg.Reply = testreceiver.Writes(handle)
	}
	return testreceiver.New(tb, cfg)
}

func newSender(timeout time.Duration) *sender.Sender {
	return sender.New(sender.Config{Timeout: timeout, MaxConnsPerHost: 4, UserAgent: testUserAgent})
}

func request(url string) sender.Request {
	return sender.Request{
		URL:        url,
		Body:       []byte(`{"id":"evt_1","type":"post.created","data":{"title":"héllo"}}`),
		Secret:     "whsec_test",
		EventType:  "post.created",
		DeliveryID: "0190a3b4-0000-7000-8000-000000000001",
	}
}

// resultOpts compares results without their measured duration, response
// headers (which carry a Date; TestSendCapturesResponseHeaders checks them),
// request headers (TestSendHeadersAndBodyExact checks them) and the Go error
// for the log (TestSendFailures checks it), and bodies as byte strings
// (element-wise comparison of 64 KiB is slow under -race).
var resultOpts = cmp.Options{
	cmpopts.IgnoreFields(sender.Result{}, "Duration", "Headers", "RequestHeaders", "Detail"),
	cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) }),
}

func TestSendHeadersAndBodyExact(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	req := request(rc.URL("/hooks/in"))

	res := newSender(5*time.Second).Send(context.Background(), req)

	want := sender.Result{Outcome: delivery.Success, StatusCode: http.StatusNoContent, Body: []byte{}}
	if diff := cmp.Diff(want, res, resultOpts); diff != "" {
		t.Errorf("Result mismatch (-want +got):\n%s", diff)
	}
	if res.Duration <= 0 {
		t.Errorf("Duration = %v, want > 0", res.Duration)
	}
	// The Standard Webhooks signature covers the attempt's own timestamp.
	ts := rc.Requests()[0].Header.Get(signature.HeaderTimestamp)
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(secs, 0)).Abs() > time.Minute {
		t.Fatalf("webhook-timestamp %q is not the current unix time", ts)
	}
	std, err := signature.SignStandard(req.Secret, req.DeliveryID, time.Unix(secs, 0), req.Body)
	if err != nil {
		t.Fatal(err)
	}
	wantReqs := []testreceiver.Received{{
		Method: http.MethodPost,
		URI:    "/hooks/in",
		Status: http.StatusNoContent,
		Header: http.Header{
			"Webhook-Id":            {req.DeliveryID},
			"Webhook-Timestamp":     {ts},
			"Webhook-Signature":     {std},
			"Content-Type":          {"application/json"},
			"Content-Length":        {strconv.Itoa(len(req.Body))},
			"User-Agent":            {testUserAgent},
			"Accept-Encoding":       {"identity"},
			"X-Trackelio-Signature": {signature.Sign(req.Secret, req.Body)},
			"X-Trackelio-Event":     {"post.created"},
			"X-Trackelio-Delivery":  {req.DeliveryID},
		},
		Body: req.Body,
	}}
	if diff := cmp.Diff(wantReqs, rc.Requests(), cmpopts.IgnoreFields(testreceiver.Received{}, "At")); diff != "" {
		t.Errorf("received request mismatch (-want +got):\n%s", diff)
	}
	if got := rc.Requests()[0].Header.Get(signature.Header); !signature.Verify(req.Secret, req.Body, got) {
		t.Errorf("signature %q does not verify", got)
	}
	// The result records exactly the headers the receiver got.
	recorded := http.Header{}
	for k, v := range res.RequestHeaders {
		recorded.Set(k, v)
	}
	if diff := cmp.Diff(wantReqs[0].Header, recorded); diff != "" {
		t.Errorf("RequestHeaders differ from what was sent (-sent +recorded):\n%s", diff)
	}
}

func TestSendStatusOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		want   sender.Result
	}{
		{"200", 200, `{"ok":true}`, sender.Result{Outcome: delivery.Success, StatusCode: 200, Body: []byte(`{"ok":true}`)}},
		{"202 empty body", 202, "", sender.Result{Outcome: delivery.Success, StatusCode: 202, Body: []byte{}}},
		{"299", 299, "fine", sender.Result{Outcome: delivery.Success, StatusCode: 299, Body: []byte("fine")}},
		{"500 body captured", 500, "boom: database down", sender.Result{
			Outcome: delivery.HTTPError, StatusCode: 500, Body: []byte("boom: database down"),
			Error: "receiver answered 500 Internal Server Error",
		}},
		{"404", 404, "nope", sender.Result{
			Outcome: delivery.HTTPError, StatusCode: 404, Body: []byte("nope"),
			Error: "receiver answered 404 Not Found",
		}},
		{"429", 429, "", sender.Result{
			Outcome: delivery.HTTPError, StatusCode: 429, Body: []byte{},
			Error: "receiver answered 429 Too Many Requests",
		}},
		{"304", 304, "", sender.Result{
			Outcome: delivery.HTTPError, StatusCode: 304, Body: []byte{},
			Error: "receiver answered 304 Not Modified",
		}},
	}
	s := newSender(5 * time.Second)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			res := s.Send(context.Background(), request(rc.URL("")))
			if diff := cmp.Diff(tt.want, res, resultOpts); diff != "" {
				t.Errorf("Result mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSendDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			target := newReceiver(t, nil)
			origin := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", target.URL("/elsewhere"))
				w.WriteHeader(status)
				io.WriteString(w, "moved")
			})

			res := newSender(5*time.Second).Send(context.Background(), request(origin.URL("")))

			want := sender.Result{
				Outcome: delivery.HTTPError, StatusCode: status, Body: []byte("moved"),
				Error: "receiver answered " + strconv.Itoa(status) + " " + http.StatusText(status),
			}
			if diff := cmp.Diff(want, res, resultOpts); diff != "" {
				t.Errorf("Result mismatch (-want +got):\n%s", diff)
			}
			if n := len(origin.Requests()); n != 1 {
				t.Errorf("origin got %d requests, want 1", n)
			}
			if n := len(target.Requests()); n != 0 {
				t.Errorf("redirect target got %d requests, want 0", n)
			}
		})
	}
}

func TestSendTruncatesLargeBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		size          int
		wantLen       int
		wantTruncated bool
	}{
		{"below limit", sender.CaptureLimit - 1, sender.CaptureLimit - 1, false},
		{"exactly limit", sender.CaptureLimit, sender.CaptureLimit, false},
		{"one past limit", sender.CaptureLimit + 1, sender.CaptureLimit, true},
		{"far past limit", 4 << 20, sender.CaptureLimit, true},
	}
	s := newSender(5 * time.Second)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A repeating non-uniform pattern shows the prefix is kept in order.
			body := bytes.Repeat([]byte("0123456789abcdef"), tt.size/16+1)[:tt.size]
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
				w.Write(body)
			})
			res := s.Send(context.Background(), request(rc.URL("")))
			want := sender.Result{
				Outcome: delivery.HTTPError, StatusCode: 500, Body: body[:tt.wantLen], Truncated: tt.wantTruncated,
				Error: "receiver answered 500 Internal Server Error",
			}
			if diff := cmp.Diff(want, res, resultOpts); diff != "" {
				t.Errorf("Result mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSendTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	// Unblock the handler before the server's Close waits for it.
	t.Cleanup(func() { close(release) })

	const timeout = 100 * time.Millisecond
	start := time.Now()
	res := newSender(timeout).Send(context.Background(), request(rc.URL("")))
	elapsed := time.Since(start)

	want := sender.Result{Outcome: delivery.Timeout, Error: "timed out after 100ms waiting for the response headers"}
	if diff := cmp.Diff(want, res, resultOpts); diff != "" {
		t.Errorf("Result mismatch (-want +got):\n%s", diff)
	}
	if res.Duration < timeout || elapsed > 5*time.Second {
		t.Errorf("Duration = %v (elapsed %v), want about %v", res.Duration, elapsed, timeout)
	}
}

func TestSendSlowBodyTimesOut(t *testing.T) {
	t.Parallel()
	// Headers arrive at once but the body never finishes: the total timeout
	// must still bound the attempt. The status already arrived, so the
	// receiver's answer is what is recorded.
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })

	start := time.Now()
	res := newSender(100*time.Millisecond).Send(context.Background(), request(rc.URL("")))
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("Send took %v with a 100ms timeout", elapsed)
	}
	want := sender.Result{Outcome: delivery.Success, StatusCode: 200, Body: []byte("partial")}
	if diff := cmp.Diff(want, res, resultOpts); diff != "" {
		t.Errorf("Result mismatch (-want +got):\n%s", diff)
	}
}

func TestSendConnectionRefused(t *testing.T) {
	t.Parallel()
	res := newSender(5*time.Second).Send(context.Background(), request("http://"+testreceiver.ClosedAddr(t)+"/hook"))

	if res.Outcome != delivery.ConnectionError || res.StatusCode != 0 || res.Body != nil {
		t.Errorf("Result = %+v, want ConnectionError without a response", res)
	}
	if !strings.Contains(res.Error, "connection refused") {
		t.Errorf("Error = %q, want it to mention the refused connection", res.Error)
	}
	if strings.Contains(res.Error, "/hook") {
		t.Errorf("Error = %q repeats the URL", res.Error)
	}
}

func TestSendInvalidURL(t *testing.T) {
	t.Parallel()
	res := newSender(time.Second).Send(context.Background(), request("http://bad host/"))
	if res.Outcome != delivery.ConnectionError || res.Error == "" {
		t.Errorf("Result = %+v, want ConnectionError with an error", res)
	}
}

func TestSendCancelledContext(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := newSender(5*time.Second).Send(ctx, request(rc.URL("")))
	if res.Outcome == delivery.Success || res.Error == "" {
		t.Errorf("Result = %+v, want a failure for a cancelled context", res)
	}
}

// resolverFunc is a destination.Resolver answering with itself.
type resolverFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

var _ destination.Resolver = resolverFunc(nil)

func (f resolverFunc) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return f(ctx, network, host)
}

// loopbackGuard allows loopback and resolves every name to 127.0.0.1, so a
// test can use a host name that is not loopback by its spelling.
func loopbackGuard() *destination.Guard {
	return destination.New(destination.Config{
		Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Resolver: resolverFunc(func(context.Context, string, string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}),
	})
}

// guardedSender is a sender whose connections the guard checks.
func guardedSender(g *destination.Guard, timeout time.Duration) *sender.Sender {
	return sender.New(sender.Config{
		Timeout: timeout, UserAgent: testUserAgent,
		Dial: g.DialContext(&net.Dialer{Timeout: timeout}),
	})
}

// newTLSReceiver starts an HTTPS receiver that answers with h and speaks
// HTTP/2. cfg, when set, replaces httptest's TLS settings (its certificate
// is still used when cfg has none). Failed handshakes are not logged.
func newTLSReceiver(tb testing.TB, h http.HandlerFunc, cfg *tls.Config) *httptest.Server {
	tb.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.TLS = cfg
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	return srv
}

// trusting makes s trust srv's certificate and returns it.
func trusting(s *sender.Sender, srv *httptest.Server) *sender.Sender {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	sender.SetRootCAs(s, pool)
	return s
}

// countingProxy stands in for a forward proxy and counts what reaches it.
func countingProxy(tb testing.TB) (*httptest.Server, *atomic.Int64) {
	tb.Helper()
	var n atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "via proxy")
	}))
	tb.Cleanup(proxy.Close)
	return proxy, &n
}

// TestSendIgnoresEnvironmentProxy cannot run in parallel: it sets the
// process environment. Go never proxies a loopback host, so the receiver is
// addressed by a name (resolved to 127.0.0.1 by the guard) that an
// environment proxy would otherwise carry.
func TestSendIgnoresEnvironmentProxy(t *testing.T) {
	proxy, proxied := countingProxy(t)
	for _, k := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"} {
		t.Setenv(k, proxy.URL)
	}
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")

	rc := newReceiver(t, nil)
	s := guardedSender(loopbackGuard(), 5*time.Second)
	_, port, _ := net.SplitHostPort(rc.Addr())
	res := s.Send(context.Background(), request("http://receiver.test:"+port+"/hook"))

	if res.Outcome != delivery.Success || res.StatusCode != http.StatusNoContent {
		t.Errorf("Result = %+v, want Success 204 from the receiver", res)
	}
	if n := len(rc.Requests()); n != 1 {
		t.Errorf("receiver got %d requests, want 1", n)
	}
	if n := proxied.Load(); n != 0 {
		t.Errorf("environment proxy got %d requests, want 0", n)
	}
}

func TestSendThroughConfiguredProxy(t *testing.T) {
	t.Parallel()
	proxy, proxied := countingProxy(t)
	proxyURL, err := url.Parse(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	rc := newReceiver(t, nil)
	s := sender.New(sender.Config{Timeout: 5 * time.Second, UserAgent: testUserAgent, Proxy: proxyURL})

	res := s.Send(context.Background(), request(rc.URL("")))

	if res.Outcome != delivery.Success || string(res.Body) != "via proxy" {
		t.Errorf("Result = %+v, want the proxy's 200", res)
	}
	if n := proxied.Load(); n != 1 {
		t.Errorf("proxy got %d requests, want 1", n)
	}
	if n := len(rc.Requests()); n != 0 {
		t.Errorf("receiver got %d direct requests, want 0", n)
	}
}

func TestSendBlockedDestination(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	// No allowlist: loopback is refused before any connection is made.
	s := guardedSender(destination.New(destination.Config{}), 5*time.Second)

	res := s.Send(context.Background(), request(rc.URL("")))

	// The customer reads that it was blocked, not which address the name
	// had: that would map our network. The worker's log gets the address.
	if res.Outcome != delivery.Blocked || res.StatusCode != 0 || res.Error != "blocked: the address is not public" ||
		!strings.Contains(res.Detail, "127.0.0.1") {
		t.Errorf("Result = %+v, want Blocked with an error without the address, and a Detail naming 127.0.0.1", res)
	}
	if n := len(rc.Requests()); n != 0 {
		t.Errorf("receiver got %d requests from a blocked send", n)
	}

	// The same guard with loopback allowed delivers.
	s = guardedSender(loopbackGuard(), 5*time.Second)
	if res := s.Send(context.Background(), request(rc.URL(""))); res.Outcome != delivery.Success {
		t.Errorf("allowlisted Send = %+v, want Success", res)
	}
}

// TestSendChecksURLFirst: with a CheckURL hook, a stored URL that the rules
// of today refuse (they may be newer than the URL) makes no connection.
func TestSendChecksURLFirst(t *testing.T) {
	t.Parallel()
	var dialled atomic.Int64
	s := sender.New(sender.Config{
		Timeout: 5 * time.Second, UserAgent: testUserAgent,
		CheckURL: loopbackGuard().CheckURL,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			dialled.Add(1)
			return nil, errors.New("this test's dialer connects nowhere")
		},
	})
	tests := []struct {
		url  string
		want sender.Result
	}{
		// Allowlisted addresses are held to the port rule too.
		{"http://127.0.0.1:22/hook", sender.Result{Outcome: delivery.Blocked, Error: "blocked: port 22 is not allowed"}},
		{"http://hooks.example.com:6379/", sender.Result{Outcome: delivery.Blocked, Error: "blocked: port 6379 is not allowed"}},
		{"http://10.0.0.1/hook", sender.Result{Outcome: delivery.Blocked, Error: "blocked: the address is not public"}},
		{"https://example.com/a b", sender.Result{Outcome: delivery.ConnectionError,
			Error: "url contains a space at position 22; percent-encode it as %20"}},
		// Go escapes a space in the path but sends the query as it is.
		{"https://example.com/hook?q=a b", sender.Result{Outcome: delivery.ConnectionError,
			Error: "url contains a space at position 29; percent-encode it as %20"}},
	}
	for _, tt := range tests {
		res := s.Send(context.Background(), request(tt.url))
		if diff := cmp.Diff(tt.want, res, resultOpts); diff != "" {
			t.Errorf("Send(%q) mismatch (-want +got):\n%s", tt.url, diff)
		}
		if res.Detail == "" {
			t.Errorf("Send(%q) has no Detail for the log", tt.url)
		}
	}
	if n := dialled.Load(); n != 0 {
		t.Errorf("refused URLs dialled %d times", n)
	}

	// A URL the hook accepts is sent.
	rc := newReceiver(t, nil)
	s = sender.New(sender.Config{Timeout: 5 * time.Second, UserAgent: testUserAgent, CheckURL: loopbackGuard().CheckURL})
	if res := s.Send(context.Background(), request(rc.URL("/hook"))); res.Outcome != delivery.Success {
		t.Errorf("Send to an accepted URL = %+v, want Success", res)
	}
}

func TestSendCapturesResponseHeaders(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.Header()["X-Multi"] = []string{"a", "b"}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	res := newSender(5*time.Second).Send(context.Background(), request(rc.URL("")))

	got := map[string]string{}
	for _, k := range []string{"Retry-After", "X-Multi", "Content-Length"} {
		got[k] = res.Headers[k]
	}
	want := map[string]string{"Retry-After": "120", "X-Multi": "a, b", "Content-Length": "0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("captured headers (-want +got):\n%s", diff)
	}
	if res.Headers["Date"] == "" {
		t.Errorf("Headers = %v, want the Date header too", res.Headers)
	}
}

func TestSendBoundsResponseHeaders(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		for i := range 200 {
			w.Header().Set(fmt.Sprintf("X-Noise-%03d", i), strings.Repeat("n", 100))
		}
		w.Header().Set("X-Huge", strings.Repeat("h", 5000))
		w.WriteHeader(http.StatusOK)
	})
	res := newSender(5*time.Second).Send(context.Background(), request(rc.URL("")))

	if res.Outcome != delivery.Success {
		t.Fatalf("Result = %+v, want Success", res)
	}
	size := 0
	for k, v := range res.Headers {
		if len(v) > 1024 {
			t.Errorf("header %s kept %d bytes, want at most 1024", k, len(v))
		}
		size += len(k) + len(v)
	}
	if len(res.Headers) == 0 || len(res.Headers) > 50 {
		t.Errorf("kept %d headers, want between 1 and 50", len(res.Headers))
	}
	if size > 8<<10 {
		t.Errorf("kept %d bytes of headers, want at most 8 KiB", size)
	}
	// The result says how many were left out, so the log can say so: 201
	// were sent with Content-Length and Date.
	if got, sent := res.HeadersDropped, 201+2; got != sent-len(res.Headers) {
		t.Errorf("HeadersDropped = %d, want %d (%d sent, %d kept)", got, sent-len(res.Headers), sent, len(res.Headers))
	}
}

func TestSendConcurrent(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s := newSender(5 * time.Second)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			req := request(rc.URL(""))
			req.DeliveryID = strconv.Itoa(i)
			if res := s.Send(context.Background(), req); res.Outcome != delivery.Success {
				t.Errorf("Send %d = %+v, want Success", i, res)
			}
		})
	}
	wg.Wait()
	if n := len(rc.Requests()); n != 20 {
		t.Errorf("receiver got %d requests, want 20", n)
	}
}

// TestSendTrustsConfiguredRoots: Config.RootCAs (the worker's
// DELIVERY_CA_FILE) makes a privately signed receiver verifiable, and the
// connection is kept for the next attempt.
func TestSendTrustsConfiguredRoots(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	s := sender.New(sender.Config{Timeout: 5 * time.Second, MaxConnsPerHost: 4, UserAgent: testUserAgent, RootCAs: pool})
	for i := range 3 {
		if res := s.Send(context.Background(), request(srv.URL)); res.Outcome != delivery.Success {
			t.Fatalf("attempt %d: %+v, want Success", i+1, res)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("3 attempts opened %d connections, want 1 kept alive", n)
	}
}
