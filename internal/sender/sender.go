// Package sender performs one signed webhook HTTP request and reports what
// happened, reading only a bounded prefix of the response.
package sender

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/signature"
)

// CaptureLimit is how much of a response body is read and stored.
const CaptureLimit = 64 << 10

// HeaderLimit bounds the response headers an attempt reads: the status
// line and header fields over HTTP/1, the header list over HTTP/2 (net/http
// derives the SETTINGS_MAX_HEADER_LIST_SIZE it advertises and enforces from
// the transport's MaxResponseHeaderBytes). A receiver sending more fails
// the attempt after at most this much; net/http's default is 10 MB.
const HeaderLimit = 32 << 10

// Response headers are stored too, within these bounds.
const (
	maxHeaders       = 50
	maxHeaderValue   = 1024
	maxHeadersStored = 8 << 10
)

// Config configures a Sender.
type Config struct {
	// Timeout bounds the whole attempt: connect, request and response.
	Timeout time.Duration
	// MaxConnsPerHost sizes keep-alive pools; set it to the worker
	// concurrency so a busy receiver does not force new connections.
	MaxConnsPerHost int
	// UserAgent is sent as User-Agent.
	UserAgent string
	// Dial opens connections; the worker passes the destination guard's
	// dialer so every connection is checked after DNS resolution.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Proxy, when set, carries every request. The guard then sees only the
	// proxy's address, so the proxy must do its own filtering. Environment
	// proxy variables are ignored.
	Proxy *url.URL
	// Now is the clock that stamps webhook-timestamp (time.Now).
	Now func() time.Time
	// CheckURL, when set, vets each URL before anything is sent; the worker
	// passes the guard's CheckURL, so URLs stored before a rule existed are
	// held to it without a connection. An error wrapping
	// destination.ErrBlocked makes the attempt delivery.Blocked; any other fails it
	// with the error's message, which must be fit for the customer.
	CheckURL func(string) error
	// RootCAs, when set, are the authorities an HTTPS receiver's
	// certificate may chain to (the worker's: the system's plus
	// DELIVERY_CA_FILE); nil trusts the system's.
	RootCAs *x509.CertPool
}

// Sender posts webhook bodies. It is safe for concurrent use.
type Sender struct {
	client   *http.Client
	timeout  time.Duration
	ua       []string
	now      func() time.Time
	checkURL func(string) error
}

// New builds a Sender with a transport tuned for many receivers.
func New(cfg Config) *Sender {
	dial := cfg.Dial
	if dial == nil {
		dial = (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext
	}
	var proxy func(*http.Request) (*url.URL, error)
	if cfg.Proxy != nil {
		proxy = http.ProxyURL(cfg.Proxy)
	}
	tr := &http.Transport{
		Proxy:                  proxy,
		DialContext:            dial,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           4 * max(cfg.MaxConnsPerHost, 16),
		MaxIdleConnsPerHost:    max(cfg.MaxConnsPerHost, 2),
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    cfg.Timeout,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: HeaderLimit,
		// Compressed responses could expand past the capture bound.
		DisableCompression: true,
	}
	if cfg.RootCAs != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sender{
		client: &http.Client{
			Transport: tr,
			// Redirects are not followed: a 3xx is a failed attempt.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		timeout:  cfg.Timeout,
		ua:       []string{cfg.UserAgent},
		now:      cfg.Now,
		checkURL: cfg.CheckURL,
	}
}

// Request is one delivery attempt to make.
type Request struct {
	URL    string
	Body   []byte
	Secret string
	// PreviousSecret, during a rotation's grace period, adds a second
	// webhook-signature so receivers holding the old secret still verify.
	PreviousSecret string
	EventType      string
	DeliveryID     string
}

// Result is what one attempt produced.
type Result struct {
	Outcome    delivery.Outcome
	StatusCode int // 0 when no response arrived
	Body       []byte
	Truncated  bool
	// Headers holds the response headers, bounded in count and size;
	// HeadersDropped counts those that did not fit.
	Headers        map[string]string
	HeadersDropped int
	// RequestHeaders are the headers the attempt sent (or would have sent,
	// when no connection was made), so the delivery log shows the request.
	RequestHeaders map[string]string
	// RetryAfter is the receiver's Retry-After on a 429 or 503, or zero.
	RetryAfter time.Duration
	// Error describes a failure for the delivery log, which the customer
	// reads; empty on success. It is in our words, never Go's.
	Error string
	// Detail is the Go error behind Error, for the worker's log only: it
	// can name internal addresses and our resolver.
	Detail   string
	Duration time.Duration
}

// Response is what a delivery decision reads of the result.
func (r Result) Response() delivery.Response {
	return delivery.Response{Outcome: r.Outcome, StatusCode: r.StatusCode, RetryAfter: r.RetryAfter}
}

// Send makes one attempt and never returns a Go error: every failure is an
// outcome to record.
func (s *Sender) Send(ctx context.Context, r Request) Result {
	start := time.Now()
	res := s.attempt(ctx, r)
	res.Duration = time.Since(start)
	return res
}

func (s *Sender) attempt(ctx context.Context, r Request) Result {
	if s.checkURL != nil {
		if err := s.checkURL(r.URL); err != nil {
			return refused(err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	p := &progress{}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, p.trace()), http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return Result{Outcome: delivery.ConnectionError, Error: "the webhook URL is not valid", Detail: err.Error()}
	}
	sent := s.sign(req, r)
	res := s.send(ctx, req, p)
	res.RequestHeaders = sent
	return res
}

// sign sets the request's headers (content, identity and both signatures)
// and returns them as the delivery log records them.
func (s *Sender) sign(req *http.Request, r Request) map[string]string {
	// Keys are already canonical (the Standard Webhooks names are sent in
	// lower case as that spec writes them), which skips canonicalisation.
	req.Header = http.Header{
		"Content-Type":         {"application/json"},
		"User-Agent":           s.ua,
		"Accept-Encoding":      {"identity"},
		signature.Header:       {signature.Sign(r.Secret, r.Body)},
		"X-Trackelio-Event":    {r.EventType},
		"X-Trackelio-Delivery": {r.DeliveryID},
	}
	secrets := []string{r.Secret}
	if r.PreviousSecret != "" {
		secrets = append(secrets, r.PreviousSecret)
	}
	now := s.now()
	// Every secret the service generates is a Standard Webhooks secret; one
	// that is not (imported by hand) still gets the spec's signature.
	if std, err := signature.StandardSignatures(secrets, r.DeliveryID, now, r.Body); err == nil {
		req.Header[signature.HeaderID] = []string{r.DeliveryID}
		req.Header[signature.HeaderTimestamp] = []string{strconv.FormatInt(now.Unix(), 10)}
		req.Header[signature.HeaderSignature] = []string{std}
	}
	sent := make(map[string]string, len(req.Header)+1)
	for k, v := range req.Header {
		sent[k] = strings.Join(v, ", ")
	}
	// The transport adds it from the body; it is part of what was sent.
	sent["Content-Length"] = strconv.Itoa(len(r.Body))
	return sent
}

func (s *Sender) send(ctx context.Context, req *http.Request, p *progress) Result {
	resp, err := s.client.Do(req)
	if err != nil {
		return failure(ctx, err, s.timeout, p)
	}
	defer resp.Body.Close()
	// A broken response body after the status line does not change the
	// outcome: the status is the receiver's answer.
	body, truncated, _ := readPrefix(resp.Body, CaptureLimit)
	headers, dropped := boundHeaders(resp.Header)
	res := Result{Outcome: delivery.Success, StatusCode: resp.StatusCode, Body: body, Truncated: truncated, Headers: headers, HeadersDropped: dropped}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		res.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		res.Outcome = delivery.HTTPError
		res.Error = fmt.Sprintf("receiver answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return res
}

// readPrefix reads up to limit bytes and reports whether more followed. It
// reads one byte past the limit to tell, never more.
func readPrefix(r io.Reader, limit int) ([]byte, bool, error) {
	buf, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if len(buf) > limit {
		return buf[:limit], true, err
	}
	return buf, false, err
}

// parseRetryAfter reads delay-seconds or an HTTP date; anything else, or a
// time in the past, is zero.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(365*24*3600))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// boundHeaders keeps what fits the storage bounds, in name order, and
// counts the headers left out: a receiver cannot make the delivery log grow
// by answering huge or countless headers, and the log says some are missing.
func boundHeaders(h http.Header) (map[string]string, int) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make(map[string]string, min(len(keys), maxHeaders))
	size := 0
	for _, k := range keys {
		v := strings.Join(h[k], ", ")
		if len(v) > maxHeaderValue {
			v = v[:maxHeaderValue]
		}
		if len(out) == maxHeaders || size+len(k)+len(v) > maxHeadersStored {
			break
		}
		out[k] = v
		size += len(k) + len(v)
	}
	return out, len(keys) - len(out)
}
