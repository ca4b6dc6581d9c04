package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultUserAgent is the User-Agent sent unless WithUserAgent sets another.
const DefaultUserAgent = "trackelio-webhooks-go/1"

// DefaultTimeout bounds one attempt of the default HTTP client: long enough
// for SendTestEvent, which the API answers within 55 seconds.
const DefaultTimeout = 60 * time.Second

// Client calls the API for one workspace, named by its API key. It is safe
// for concurrent use; make one and share it.
type Client struct {
	base      string // scheme://host[/prefix], no trailing slash
	apiKey    string
	hc        *http.Client
	userAgent string
	retry     RetryPolicy

	// The clock and the randomness of the backoff, replaced by tests.
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
	jitter func() float64 // in [0, 1)
}

// Option configures a Client in New.
type Option func(*Client)

// WithHTTPClient sends requests with hc instead of a client of its own
// (which has DefaultTimeout per attempt and follows no redirects). Its
// Timeout bounds each attempt.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithRetry sets how failed requests are repeated; see RetryPolicy.
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) { c.retry = p.withDefaults() }
}

// WithUserAgent sets the User-Agent header, such as "trackelio-app/2.3".
func WithUserAgent(ua string) Option {
	return func(c *Client) {
		if ua != "" {
			c.userAgent = ua
		}
	}
}

// New returns a client of the API at baseURL (such as
// https://webhooks.trackelio.com, a path prefix allowed) that authenticates
// with a workspace's API key.
func New(baseURL, apiKey string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("trackelio: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("trackelio: base URL %q must be http(s)://host[/path], without user, query or fragment", baseURL)
	}
	if strings.TrimSpace(apiKey) == "" {
		return nil, errors.New("trackelio: API key is empty")
	}
	c := &Client{
		base:      strings.TrimSuffix(u.String(), "/"),
		apiKey:    strings.TrimSpace(apiKey),
		userAgent: DefaultUserAgent,
		retry:     RetryPolicy{}.withDefaults(),
		hc: &http.Client{
			Timeout: DefaultTimeout,
			// Under /v1 the API never redirects; one that does is a wrong
			// base URL, and following it would turn a POST into a GET.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		now:    time.Now,
		sleep:  sleep,
		jitter: rand.Float64,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// call is one API operation: what to send, and whether sending it again
// would do nothing more than sending it once.
type call struct {
	method string
	path   string // under the base URL, ids escaped
	query  url.Values
	body   any // marshalled once as JSON; nil sends no body
	header http.Header
	// idempotent: repeating it has no further effect, so any failure that
	// may be passing is retried. Otherwise only a request the API certainly
	// did not act on is.
	idempotent bool
}

// newRequest builds one attempt's request; body is the call's marshalled
// body, nil for none.
func (c *Client) newRequest(ctx context.Context, cl call, body []byte) (*http.Request, error) {
	target := c.base + cl.path
	if len(cl.query) > 0 {
		target += "?" + cl.query.Encode()
	}
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body) // NewRequest makes it replayable (GetBody)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, target, rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range cl.header {
		req.Header[k] = vs
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// pathOf joins escaped segments under /v1, refusing an empty id before any
// request is sent (it would name another route).
func pathOf(segments ...string) (string, error) {
	var b strings.Builder
	b.WriteString("/v1")
	for _, s := range segments {
		if s == "" {
			return "", errors.New("trackelio: an id is empty")
		}
		b.WriteString("/")
		b.WriteString(url.PathEscape(s))
	}
	return b.String(), nil
}
