package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"time"
)

// RetryPolicy bounds how a failed request is repeated (see the package
// documentation for which requests are). Zero fields take the defaults.
type RetryPolicy struct {
	// MaxAttempts counts the first attempt too: 1 never retries.
	// Default 5.
	MaxAttempts int
	// MaxElapsed is how long after the first attempt began a retry may
	// still start; a wait that would end later ends the call instead.
	// It does not cut an attempt short: the HTTP client's Timeout and the
	// context do. Default 30s.
	MaxElapsed time.Duration
	// BaseDelay is the most the first wait lasts; each retry doubles it,
	// up to MaxDelay. The wait is a random share of that ceiling (full
	// jitter), and never shorter than the answer's Retry-After.
	// Defaults 200ms and 5s.
	BaseDelay, MaxDelay time.Duration
}

// The RetryPolicy defaults.
const (
	DefaultMaxAttempts = 5
	DefaultMaxElapsed  = 30 * time.Second
	DefaultBaseDelay   = 200 * time.Millisecond
	DefaultMaxDelay    = 5 * time.Second
)

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.MaxElapsed <= 0 {
		p.MaxElapsed = DefaultMaxElapsed
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultBaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	p.MaxDelay = max(p.MaxDelay, p.BaseDelay)
	return p
}

// backoff is the wait before retry n (1 for the first): the share r, in
// [0, 1), of min(MaxDelay, BaseDelay·2^(n-1)), and at least retryAfter.
func (p RetryPolicy) backoff(n int, retryAfter time.Duration, r float64) time.Duration {
	ceiling := p.BaseDelay
	for i := 1; i < n && ceiling < p.MaxDelay; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, p.MaxDelay)
	return max(time.Duration(r*float64(ceiling)), retryAfter)
}

// retryable says whether a failed attempt may be repeated. A 429 and a
// connection that could not be made never reached the API's handlers, so
// any request may be repeated after them; other passing failures may have
// left the request done, so only an idempotent one is repeated.
func retryable(idempotent bool, err error) bool {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		switch apiErr.Status {
		case http.StatusTooManyRequests:
			return true
		case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return idempotent
		}
		return false
	}
	// The caller's context ending stops the call before this is asked; a
	// deadline here is the HTTP client's Timeout, which each attempt gets
	// afresh.
	if errors.Is(err, context.Canceled) || permanent(err) {
		return false
	}
	return notSent(err) || idempotent
}

// notSent says the connection could not be made, so the API saw nothing.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect")
}

// permanent says the same request would fail the same way: the server's
// certificate is refused, its name does not exist, or its answer is too
// large.
func permanent(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		hostname x509.HostnameError
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		dns      *net.DNSError
	)
	return errors.Is(err, errTooLarge) || errors.As(err, &verify) || errors.As(err, &hostname) || errors.As(err, &unknown) ||
		errors.As(err, &invalid) || errors.As(err, &dns) && dns.IsNotFound
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// nextWait says how long to wait before repeating a call whose attempt
// (counted from 1) failed with err, or false to stop: the error is not
// passing, the attempts are used up, or the wait would end after the
// policy's MaxElapsed since start or after the context's deadline.
func (c *Client) nextWait(ctx context.Context, cl call, attempt int, start time.Time, err error) (time.Duration, bool) {
	if ctx.Err() != nil || attempt >= c.retry.MaxAttempts || !retryable(cl.idempotent, err) {
		return 0, false
	}
	var retryAfter time.Duration
	var apiErr *Error
	if errors.As(err, &apiErr) {
		retryAfter = apiErr.RetryAfter
	}
	wait := c.retry.backoff(attempt, retryAfter, c.jitter())
	if c.now().Add(wait).Sub(start) > c.retry.MaxElapsed {
		return 0, false
	}
	// Deadlines are on the wall clock, whatever clock the client reads.
	if deadline, ok := ctx.Deadline(); ok && wait > time.Until(deadline) {
		return 0, false
	}
	return wait, true
}
