package signature_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/trackelio/webhooks/signature"
)

// served is what a request through the middleware produced.
type served struct {
	Status     int
	Response   string // the middleware's text for a rejection
	NextCalled bool
	NextBody   string // the body the wrapped handler read
}

// serve runs req through m wrapping a handler that records what it saw.
func serve(t *testing.T, m signature.Middleware, req *http.Request) served {
	t.Helper()
	var got served
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.NextCalled = true
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("next: read body: %v", err)
		}
		got.NextBody = string(b)
	})
	rec := httptest.NewRecorder()
	m.Wrap(next).ServeHTTP(rec, req)
	got.Status = rec.Code
	if !got.NextCalled {
		got.Response = strings.TrimSpace(rec.Body.String())
	}
	return got
}

// unsizedReader hides a body's length, as a chunked request does.
type unsizedReader struct{ io.Reader }

func TestMiddleware(t *testing.T) {
	t.Parallel()
	const id = "msg_mw"
	now := time.Unix(1700000000, 0)
	clock := func() time.Time { return now }
	body := `{"type":"post.created","data":{"title":"Ünïcode & </script>"}}`

	// request returns a POST of b signed with X-Trackelio-Signature by
	// trackelio (none if empty) and with Standard Webhooks headers by std
	// at ts (none if std is empty).
	request := func(b, trackelio, std string, ts time.Time) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/webhooks/trackelio", strings.NewReader(b))
		if trackelio != "" {
			r.Header.Set(signature.Header, signature.Sign(trackelio, []byte(b)))
		}
		if std != "" {
			for k, v := range standardHeader(id, ts, mustSignStandard(t, std, id, ts, []byte(b))) {
				r.Header[k] = v
			}
		}
		return r
	}
	ok := func(b string) served { return served{Status: http.StatusOK, NextCalled: true, NextBody: b} }
	unauthorized := func(text string) served { return served{Status: http.StatusUnauthorized, Response: text} }
	tooLarge := served{Status: http.StatusRequestEntityTooLarge, Response: "request body too large"}

	plain := signature.Middleware{Secrets: []string{oldSecret}}
	strict := signature.Middleware{Secrets: []string{newSecret, oldSecret}, RequireTimestamp: true, Now: clock}
	rotating := signature.Middleware{Secrets: []string{newSecret, oldSecret}}
	small := signature.Middleware{Secrets: []string{oldSecret}, MaxBody: 16}
	mib := strings.Repeat("x", 1<<20)

	tests := []struct {
		name string
		m    signature.Middleware
		req  *http.Request
		want served
	}{
		{"valid", plain, request(body, oldSecret, "", now), ok(body)},
		{"empty body", plain, request("", oldSecret, "", now), ok("")},
		{"missing signature", plain, request(body, "", "", now), unauthorized("missing X-Trackelio-Signature header")},
		{"wrong secret", plain, request(body, otherSecret, "", now), unauthorized("invalid signature")},
		{"bad signature", plain, func() *http.Request {
			r := request(body, oldSecret, "", now)
			r.Header.Set(signature.Header, "deadbeef")
			return r
		}(), unauthorized("invalid signature")},
		{"tampered body", plain, func() *http.Request {
			r := request(body, oldSecret, "", now)
			r.Header.Set(signature.Header, signature.Sign(oldSecret, []byte(`{}`)))
			return r
		}(), unauthorized("invalid signature")},
		{"body at MaxBody", small, request(strings.Repeat("a", 16), oldSecret, "", now), ok(strings.Repeat("a", 16))},
		{"body over MaxBody", small, request(strings.Repeat("a", 17), oldSecret, "", now), tooLarge},
		{"unsized body over MaxBody", small, func() *http.Request {
			r := request(strings.Repeat("a", 17), oldSecret, "", now)
			r.Body, r.ContentLength = io.NopCloser(unsizedReader{strings.NewReader(strings.Repeat("a", 17))}), -1
			return r
		}(), tooLarge},
		{"body at default MaxBody", plain, request(mib, oldSecret, "", now), ok(mib)},
		{"body over default MaxBody", plain, request(mib+"x", oldSecret, "", now), tooLarge},
		{"rotation, old secret", rotating, request(body, oldSecret, "", now), ok(body)},
		{"rotation, new secret", rotating, request(body, newSecret, "", now), ok(body)},
		{"rotation, stranger", rotating, request(body, otherSecret, "", now), unauthorized("invalid signature")},
		{"timestamp required, fresh", strict, request(body, newSecret, newSecret, now.Add(-time.Minute)), ok(body)},
		{"timestamp required, old secret", strict, request(body, oldSecret, oldSecret, now), ok(body)},
		{"timestamp required, stale", strict, request(body, newSecret, newSecret, now.Add(-6*time.Minute)),
			unauthorized("invalid or expired webhook-timestamp")},
		{"timestamp required, future", strict, request(body, newSecret, newSecret, now.Add(6*time.Minute)),
			unauthorized("invalid or expired webhook-timestamp")},
		{"timestamp required, stale within custom tolerance", signature.Middleware{
			Secrets: []string{newSecret}, RequireTimestamp: true, Tolerance: 10 * time.Minute, Now: clock,
		}, request(body, newSecret, newSecret, now.Add(-6*time.Minute)), ok(body)},
		{"timestamp required, headers missing", strict, request(body, newSecret, "", now),
			unauthorized("missing webhook-id, webhook-timestamp or webhook-signature header")},
		{"timestamp required, standard signature by stranger", strict, request(body, newSecret, otherSecret, now),
			unauthorized("invalid webhook-signature")},
		{"timestamp required, trackelio signature missing", strict, request(body, "", newSecret, now),
			unauthorized("missing X-Trackelio-Signature header")},
		{"timestamp required, default clock", signature.Middleware{Secrets: []string{newSecret}, RequireTimestamp: true},
			request(body, newSecret, newSecret, time.Now()), ok(body)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantEqual(t, "served", tt.want, serve(t, tt.m, tt.req))
		})
	}
}

func TestMiddlewareRestoresExactBytes(t *testing.T) {
	t.Parallel()
	const secret = "whsec_test"
	// Not valid UTF-8 and not JSON: the middleware must pass bytes through
	// untouched, whatever they are.
	body := []byte{0xff, 0xfe, '{', 0x00, '}', '\r', '\n'}
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set(signature.Header, signature.Sign(secret, body))
	got := serve(t, signature.Middleware{Secrets: []string{secret}}, req)
	wantEqual(t, "served", served{Status: http.StatusOK, NextCalled: true, NextBody: string(body)}, got)
}

func TestMiddlewareWrapPanicsOnUnusableConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		m    signature.Middleware
		want bool
	}{
		{"no secrets", signature.Middleware{}, true},
		{"timestamp required with a non-whsec secret", signature.Middleware{
			Secrets: []string{"whsec_test", "hunter2"}, RequireTimestamp: true,
		}, true},
		{"non-whsec secret without timestamps", signature.Middleware{Secrets: []string{"hunter2"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := func() (panicked bool) {
				defer func() { panicked = recover() != nil }()
				tt.m.Wrap(http.NotFoundHandler())
				return false
			}()
			wantEqual(t, "Wrap panicked", tt.want, got)
		})
	}
}
