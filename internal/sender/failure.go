package sender

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/destination"
)

// Customer texts that more than one failure gives.
var (
	// headersTooLarge is for response headers past HeaderLimit.
	headersTooLarge = "the response headers were larger than " + strconv.Itoa(HeaderLimit>>10) + " KiB"
	// notTLS is for an https URL whose receiver does not speak TLS.
	notTLS = "TLS handshake failed: the receiver did not answer with TLS"
)

// failure describes a request that got no response. Its Error is for the
// customer and in our words: Go's text can name the address a host
// resolved to, our resolver, and other facts of our network, so it goes to
// Detail, for the worker's log only.
func failure(ctx context.Context, err error, timeout time.Duration, p *progress) Result {
	// url.Error repeats the method and URL, which the delivery log shows.
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	outcome, text := classify(ctx, err, timeout, p)
	return Result{Outcome: outcome, Error: text, Detail: err.Error()}
}

// refused is the result of a URL that Config.CheckURL refused before any
// connection was made.
func refused(err error) Result {
	if errors.Is(err, destination.ErrBlocked) {
		return Result{Outcome: delivery.Blocked, Error: blockedText(err), Detail: err.Error()}
	}
	return Result{Outcome: delivery.ConnectionError, Error: err.Error(), Detail: err.Error()}
}

// blockedText tells the customer that the guard refused the destination,
// without the address a name resolved to.
func blockedText(err error) string {
	var pe *destination.PortError
	if errors.As(err, &pe) {
		return fmt.Sprintf("blocked: port %d is not allowed", pe.Port)
	}
	return "blocked: the address is not public"
}

// classify turns a failed request into its outcome and the customer's
// text, from the error's types wherever net/http gives them.
func classify(ctx context.Context, err error, timeout time.Duration, p *progress) (delivery.Outcome, string) {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, destination.ErrBlocked):
		return delivery.Blocked, blockedText(err)
	case errors.As(err, &dnsErr):
		return dnsFailure(dnsErr)
	case timedOut(ctx, err):
		return delivery.Timeout, fmt.Sprintf("timed out after %s %s", timeout, p.phase())
	}
	if text, ok := tlsFailure(err); ok {
		return delivery.ConnectionError, text
	}
	for _, f := range connectionFailures {
		if errors.Is(err, f.err) {
			return delivery.ConnectionError, f.text
		}
	}
	for _, f := range untypedFailures {
		if strings.Contains(err.Error(), f.goText) {
			return delivery.ConnectionError, f.text
		}
	}
	if p.tlsFailed.Load() {
		return delivery.ConnectionError, "TLS handshake failed"
	}
	return delivery.ConnectionError, "connection failed"
}

func dnsFailure(err *net.DNSError) (delivery.Outcome, string) {
	switch {
	case err.IsNotFound:
		return delivery.ConnectionError, "DNS lookup failed: no such host"
	case err.IsTimeout:
		return delivery.Timeout, "DNS lookup timed out"
	}
	return delivery.ConnectionError, "DNS lookup failed"
}

// timedOut says whether the attempt ran out of time: its deadline passed,
// or a timeout of the transport (TLS handshake, response headers) fired.
func timedOut(ctx context.Context, err error) bool {
	var netErr net.Error
	return errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &netErr) && netErr.Timeout())
}

// tlsFailure names why the receiver's certificate was not accepted, or
// that it did not speak TLS.
func tlsFailure(err error) (string, bool) {
	var (
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		unknown  x509.UnknownAuthorityError
		verify   *tls.CertificateVerificationError
		record   tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "TLS handshake failed: certificate expired or not yet valid", true
	case errors.As(err, &hostname):
		return "TLS handshake failed: certificate is not valid for this host", true
	case errors.As(err, &unknown):
		return "TLS handshake failed: certificate signed by an unknown authority", true
	case errors.As(err, &verify):
		return "TLS handshake failed: certificate is not valid", true
	case errors.As(err, &record):
		return notTLS, true
	}
	return "", false
}

// connectionFailures are the customer's texts for errors the system and
// the transport return, in the order they are tried.
var connectionFailures = []struct {
	err  error
	text string
}{
	{syscall.ECONNREFUSED, "connection refused"},
	{syscall.ECONNRESET, "connection reset by the receiver"},
	{syscall.EHOSTUNREACH, "the receiver's address is unreachable"},
	{syscall.ENETUNREACH, "the receiver's address is unreachable"},
	{io.EOF, "the receiver closed the connection without a response"},
	{io.ErrUnexpectedEOF, "the receiver closed the connection without a response"},
	{context.Canceled, "the attempt was cancelled"},
}

// untypedFailures are failures net/http reports only as text: an HTTP
// answer to a TLS handshake (which replaces tls.RecordHeaderError), response
// headers past HeaderLimit (over HTTP/1, and over HTTP/2 as a header list
// or as one HPACK string, which is refused while it is decoded), and
// HTTP/2's other connection and stream errors, whose types are unexported.
// The first match wins.
var untypedFailures = []struct {
	goText, text string
}{
	{"server gave HTTP response to HTTPS client", notTLS},
	{"server response headers exceeded", headersTooLarge},
	{"response header list larger than advertised limit", headersTooLarge},
	{"connection error: COMPRESSION_ERROR", headersTooLarge + " or could not be decoded (HTTP/2)"},
	{"connection error: ", "HTTP/2 protocol error"},
	{"stream error: ", "HTTP/2 protocol error"},
}

// progress is how far an attempt got, set by httptrace hooks that run on
// the transport's goroutines.
type progress struct {
	connected atomic.Bool // a connection was ready for the request
	tlsFailed atomic.Bool
}

func (p *progress) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { p.connected.Store(true) },
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if err != nil {
				p.tlsFailed.Store(true)
			}
		},
	}
}

// phase says what a timed-out attempt was waiting for.
func (p *progress) phase() string {
	if p.connected.Load() {
		return "waiting for the response headers"
	}
	return "connecting"
}
