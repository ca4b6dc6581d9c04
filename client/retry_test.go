package client_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/client"
)

// TestRetries: which failures each kind of call repeats, how many requests
// reach the server, and how long the waits between them are. With the
// jitter fixed at one half, retry n waits half of 200ms·2^(n-1), or the
// Retry-After when longer.
func TestRetries(t *testing.T) {
	t.Parallel()
	const network = -1 // the call fails without an answer
	testTimeout := reply(504, apiError("test_timeout", "no attempt within 15s", ""))
	tests := []struct {
		name         string
		op           op
		refuse       int
		steps        []step
		wantRequests int
		wantWaits    []time.Duration
		wantStatus   int // of the *Error; 0 for success
	}{
		{"publish retries a 503, a 429, a 500 and a reset", publish, 0,
			[]step{unavailable, rateLimited, internal, resetConn, accepted}, 5,
			[]time.Duration{2 * time.Second, time.Second, 400 * time.Millisecond, 800 * time.Millisecond}, 0},
		{"publish stops after five attempts", publish, 0,
			[]step{unavailable, unavailable, unavailable, unavailable, unavailable}, 5,
			[]time.Duration{2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second}, 503},
		{"publish retries a refused connection", publish, 1, []step{accepted}, 1, []time.Duration{100 * time.Millisecond}, 0},
		{"publish does not retry a refusal", publish, 0,
			[]step{reply(422, apiError("validation_failed", "post.id is required", "/data/post/id"))}, 1, nil, 422},
		{"publish does not retry a key used for another event", publish, 0,
			[]step{reply(422, apiError("idempotency_key_reused", `Idempotency-Key "k" was already used for a different event`, "Idempotency-Key"))}, 1, nil, 422},
		{"a 401 is not retried", publish, 0, []step{reply(401, apiError("unauthorized", "missing or invalid API key", ""))}, 1, nil, 401},
		{"create webhook is retried after a 429", createHook, 0, []step{rateLimited, hookCreated}, 2, []time.Duration{time.Second}, 0},
		{"create webhook is retried after refused connections", createHook, 2, []step{hookCreated}, 1,
			[]time.Duration{100 * time.Millisecond, 200 * time.Millisecond}, 0},
		{"create webhook is not retried after a 503", createHook, 0, []step{unavailable}, 1, nil, 503},
		{"create webhook is not retried after a 500", createHook, 0, []step{internal}, 1, nil, 500},
		{"create webhook is not retried after a reset", createHook, 0, []step{resetConn}, 1, nil, network},
		{"get webhook retries a 502, a reset and a 504", getHook, 0,
			[]step{badGateway, resetConn, reply(504, ""), hookOK}, 4,
			[]time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}, 0},
		{"get webhook does not retry a 404", getHook, 0, []step{reply(404, apiError("not_found", "no such resource", ""))}, 1, nil, 404},
		{"update webhook retries a 503", updateHook, 0, []step{unavailable, hookOK}, 2, []time.Duration{2 * time.Second}, 0},
		{"delete webhook retries a 500", deleteHook, 0, []step{internal, noContent}, 2, []time.Duration{100 * time.Millisecond}, 0},
		{"rotate secret is not retried after a 500", rotate, 0, []step{internal}, 1, nil, 500},
		{"rotate secret is retried after a 429", rotate, 0,
			[]step{rateLimited, reply(200, `{"secret":"whsec_x","previous_secret_expires_at":"2026-01-02T04:04:05Z"}`)}, 2, []time.Duration{time.Second}, 0},
		{"test event is not retried after its 504", testEvent, 0, []step{testTimeout}, 1, nil, 504},
		{"redeliver is not retried after a 503", redeliver, 0, []step{unavailable}, 1, nil, 503},
		{"redeliver is not retried after a reset", redeliver, 0, []step{resetConn}, 1, nil, network},
		{"recover is not retried after a 500", recoverFor(false), 0, []step{internal}, 1, nil, 500},
		{"a dry-run recover is retried after a 500", recoverFor(true), 0,
			[]step{internal, reply(200, `{"deliveries":0,"dry_run":true,"since":"2026-01-02T02:04:05Z","until":"2026-01-02T03:04:05Z"}`)}, 2,
			[]time.Duration{100 * time.Millisecond}, 0},
		{"portal session is retried after a 503", portal, 0,
			[]step{unavailable, reply(201, `{"url":"https://x.example/dashboard/session/trkpl_x","expires_at":"2026-01-02T03:09:05Z"}`)}, 2,
			[]time.Duration{2 * time.Second}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newScript(t, tt.steps...)
			c, ft := s.client(t, scriptOptions{refuse: tt.refuse})
			err := tt.op(context.Background(), c)
			var apiErr *client.Error
			switch {
			case tt.wantStatus == 0 && err != nil:
				t.Fatalf("err = %v, want success", err)
			case tt.wantStatus == network && (err == nil || errors.As(err, &apiErr)):
				t.Fatalf("err = %v, want a network error", err)
			case tt.wantStatus > 0 && (!errors.As(err, &apiErr) || apiErr.Status != tt.wantStatus):
				t.Fatalf("err = %v, want an *Error with status %d", err, tt.wantStatus)
			}
			reqs := s.requests()
			if len(reqs) != tt.wantRequests {
				t.Errorf("the server got %d requests, want %d", len(reqs), tt.wantRequests)
			}
			for i, r := range reqs[1:] {
				if r.Body != reqs[0].Body {
					t.Errorf("attempt %d sent %q, the first %q", i+2, r.Body, reqs[0].Body)
				}
				if got, first := r.Header.Get("Idempotency-Key"), reqs[0].Header.Get("Idempotency-Key"); got != first {
					t.Errorf("attempt %d sent Idempotency-Key %q, the first %q", i+2, got, first)
				}
			}
			if diff := cmp.Diff(tt.wantWaits, ft.recorded()); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRetryStopsAtMaxElapsed(t *testing.T) {
	t.Parallel()
	s := newScript(t, unavailable, unavailable)
	c, ft := s.client(t, scriptOptions{opts: []client.Option{client.WithRetry(client.RetryPolicy{MaxElapsed: 3 * time.Second})}})
	err := publish(context.Background(), c)
	// The second wait would end 4s after the first attempt began.
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Code != client.CodeUnavailable || !strings.Contains(err.Error(), "(2 attempts)") {
		t.Errorf("err = %v, want the 503 after 2 attempts", err)
	}
	if got := len(s.requests()); got != 2 {
		t.Errorf("%d requests, want 2", got)
	}
	if diff := cmp.Diff([]time.Duration{2 * time.Second}, ft.recorded()); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
}

func TestRetryWithOneAttemptNeverRetries(t *testing.T) {
	t.Parallel()
	s := newScript(t, unavailable)
	c, ft := s.client(t, scriptOptions{opts: []client.Option{client.WithRetry(client.RetryPolicy{MaxAttempts: 1})}})
	if err := publish(context.Background(), c); err == nil || len(s.requests()) != 1 || len(ft.recorded()) != 0 {
		t.Errorf("err = %v after %d requests and waits %v; want the 503 at once", err, len(s.requests()), ft.recorded())
	}
}

// TestRetryDoesNotOutwaitTheContext: a Retry-After longer than the context
// has left ends the call at once with the answer, which says when to retry.
func TestRetryDoesNotOutwaitTheContext(t *testing.T) {
	t.Parallel()
	s := newScript(t, reply(503, apiError("unavailable", "down", ""), "Retry-After", "60"))
	c, ft := s.client(t, scriptOptions{opts: []client.Option{client.WithRetry(client.RetryPolicy{MaxElapsed: time.Hour})}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := publish(ctx, c)
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.RetryAfter != time.Minute || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the 503 with its Retry-After", err)
	}
	if len(ft.recorded()) != 0 || len(s.requests()) != 1 {
		t.Errorf("waits %v, %d requests; want none and 1", ft.recorded(), len(s.requests()))
	}
}

func TestRetryStopsWhenCancelledDuringTheWait(t *testing.T) {
	t.Parallel()
	s := newScript(t, unavailable)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waited []time.Duration
	c, _ := s.client(t, scriptOptions{opts: []client.Option{client.WithClock(time.Now, func(ctx context.Context, d time.Duration) error {
		waited = append(waited, d)
		cancel()
		return client.Sleep(ctx, d)
	})}})
	err := publish(ctx, c)
	var apiErr *client.Error
	if !errors.Is(err, context.Canceled) || !errors.As(err, &apiErr) || apiErr.Status != 503 {
		t.Errorf("err = %v, want the cancellation and the 503 before it", err)
	}
	if diff := cmp.Diff([]time.Duration{2 * time.Second}, waited); diff != "" || len(s.requests()) != 1 {
		t.Errorf("waits (-want +got):\n%s\n%d requests, want 1", diff, len(s.requests()))
	}
}

func TestRetryStopsWhenCancelledDuringAnAttempt(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newScript(t, func(w http.ResponseWriter, r *http.Request) {
		cancel() // the caller gives up while the api works
		<-r.Context().Done()
	})
	c, ft := s.client(t, scriptOptions{})
	if err := publish(ctx, c); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if len(ft.recorded()) != 0 || len(s.requests()) != 1 {
		t.Errorf("waits %v, %d requests; want none and 1", ft.recorded(), len(s.requests()))
	}
}

func TestSleep(t *testing.T) {
	t.Parallel()
	if err := client.Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Sleep = %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := client.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Errorf("Sleep on a cancelled context = %v after %v, want context.Canceled at once", err, time.Since(start))
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	custom := client.RetryPolicy{BaseDelay: time.Second, MaxDelay: 3 * time.Second}
	tests := []struct {
		policy     client.RetryPolicy
		retry      int
		retryAfter time.Duration
		r          float64
		want       time.Duration
	}{
		{client.RetryPolicy{}, 1, 0, 0.5, 100 * time.Millisecond},
		{client.RetryPolicy{}, 2, 0, 0.5, 200 * time.Millisecond},
		{client.RetryPolicy{}, 5, 0, 0.5, 1600 * time.Millisecond},
		{client.RetryPolicy{}, 6, 0, 0.5, 2500 * time.Millisecond}, // capped at 5s
		{client.RetryPolicy{}, 60, 0, 0.5, 2500 * time.Millisecond},
		{client.RetryPolicy{}, 1, 0, 0, 0},
		{client.RetryPolicy{}, 3, 0, 0.999, 799200 * time.Microsecond},
		{client.RetryPolicy{}, 1, 2 * time.Second, 0.5, 2 * time.Second}, // Retry-After is the least
		{client.RetryPolicy{}, 6, time.Second, 0.9, 4500 * time.Millisecond},
		{custom, 1, 0, 0.5, 500 * time.Millisecond},
		{custom, 3, 0, 1, 3 * time.Second},
		{client.RetryPolicy{BaseDelay: 10 * time.Second}, 1, 0, 1, 10 * time.Second}, // MaxDelay at least BaseDelay
	}
	for _, tt := range tests {
		if got := client.Backoff(tt.policy, tt.retry, tt.retryAfter, tt.r); got != tt.want {
			t.Errorf("Backoff(%+v, %d, %v, %v) = %v, want %v", tt.policy, tt.retry, tt.retryAfter, tt.r, got, tt.want)
		}
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	refused := &url.Error{Op: "Post", URL: "http://127.0.0.1:1/v1/events", Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	reset := &url.Error{Op: "Post", URL: "http://127.0.0.1:1/v1/events", Err: &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}}
	noHost := &url.Error{Op: "Get", URL: "http://nowhere.invalid/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "nowhere.invalid", IsNotFound: true}}}
	status := func(n int) error { return fmt.Errorf("wrapped: %w", &client.Error{Status: n}) }
	tests := []struct {
		name             string
		err              error
		idempotent, once bool // whether each kind of call may repeat it
	}{
		{"429", status(429), true, true},
		{"500", status(500), true, false},
		{"502", status(502), true, false},
		{"503", status(503), true, false},
		{"504", status(504), true, false},
		{"501", status(501), false, false},
		{"400", status(400), false, false},
		{"401", status(401), false, false},
		{"404", status(404), false, false},
		{"409", status(409), false, false},
		{"422", status(422), false, false},
		{"connection refused", refused, true, true},
		{"connection reset", reset, true, false},
		{"unexpected EOF", fmt.Errorf("read the 200 answer: %w", io.ErrUnexpectedEOF), true, false},
		{"client timeout", &url.Error{Op: "Get", Err: context.DeadlineExceeded}, true, false},
		{"cancelled", &url.Error{Op: "Get", Err: context.Canceled}, false, false},
		{"unknown host", noHost, false, false},
		{"unknown authority", &url.Error{Op: "Get", Err: x509.UnknownAuthorityError{}}, false, false},
	}
	for _, tt := range tests {
		if got := client.Retryable(true, tt.err); got != tt.idempotent {
			t.Errorf("%s: retryable for an idempotent call = %v, want %v", tt.name, got, tt.idempotent)
		}
		if got := client.Retryable(false, tt.err); got != tt.once {
			t.Errorf("%s: retryable for a call not to repeat = %v, want %v", tt.name, got, tt.once)
		}
	}
}
