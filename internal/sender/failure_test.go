package sender_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/destination"
	"github.com/trackelio/webhooks/internal/sender"
	"github.com/trackelio/webhooks/internal/testreceiver"
)

// hangUp answers by closing the connection without a response; with reset
// the close is a TCP reset.
func hangUp(reset bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic("hangUp needs an HTTP/1 server: " + err.Error())
		}
		if reset {
			conn.(*net.TCPConn).SetLinger(0)
		}
		conn.Close()
	}
}

// unreachable is the handler of a receiver whose handshake must fail.
func unreachable(tb testing.TB) http.HandlerFunc {
	return func(http.ResponseWriter, *http.Request) {
		tb.Error("a request reached a receiver whose TLS handshake must fail")
	}
}

// expiredCert is a self-signed certificate for 127.0.0.1 that expired
// yesterday.
func expiredCert(tb testing.TB) tls.Certificate {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-48 * time.Hour),
		NotAfter:     time.Now().Add(-24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// dnsGuard is a guard with loopback allowed whose resolver fails with err.
func dnsGuard(err *net.DNSError) *destination.Guard {
	return destination.New(destination.Config{
		Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Resolver: resolverFunc(func(_ context.Context, _, host string) ([]netip.Addr, error) {
			e := *err
			e.Name = host
			return nil, &e
		}),
	})
}

// TestSendFailures: a failed attempt tells the customer what went wrong in
// our words, never with Go's error text, which can name the address a name
// resolved to, our resolver and other facts of our network; the worker's
// log gets that text as Detail.
func TestSendFailures(t *testing.T) {
	t.Parallel()
	const timeout = 5 * time.Second
	// resolver is the address of our DNS server, which no customer may see.
	const resolver = "10.0.0.2:53"
	tests := []struct {
		name string
		// attempt returns the sender and the URL to send to.
		attempt func(t *testing.T) (*sender.Sender, string)
		want    sender.Result
		detail  string // what Detail must name
	}{
		{
			name: "connection refused",
			attempt: func(t *testing.T) (*sender.Sender, string) {
				addr := testreceiver.ClosedAddr(t)
				return newSender(timeout), "http://" + addr + "/hook"
			},
			want:   sender.Result{Outcome: delivery.ConnectionError, Error: "connection refused"},
			detail: "connection refused",
		},
		{
			name: "connection reset",
			attempt: func(t *testing.T) (*sender.Sender, string) {
				return newSender(timeout), newReceiver(t, hangUp(true)).URL("")
			},
			want:   sender.Result{Outcome: delivery.ConnectionError, Error: "connection reset by the receiver"},
			detail: "reset",
		},
		{
			name: "closed without a response",
			attempt: func(t *testing.T) (*sender.Sender, string) {
				return newSender(timeout), newReceiver(t, hangUp(false)).URL("")
			},
			want:   sender.Result{Outcome: delivery.ConnectionError, Error: "the receiver closed the connection without a response"},
			detail: "EOF",
		},
		{
			name: "internal address",
			attempt: func(t *testing.T) (*sender.Sender, string) {
				return guardedSender(destination.New(destination.Config{}), timeout), newReceiver(t, nil).URL("")
			},
			want:   sender.Result{Outcome: delivery.Blocked, Error: "blocked: the address is not public"},
			detail: "127.0.0.1",
		},
		{
			name: "name of an internal address",
			attempt: func(t *testing.T) (*sender.Sender, string) {
				g := destination.New(destination.Config{Resolver: resolverFunc(func(context.Context, string, string) ([]netip.Addr, error) {
					return []netip.Addr{netip.MustParseAddr("10.1.2.3")}, nil
				})})
				return guardedSender(g, timeout), "https://internal.example.com/hook"
			},
			want:   sender.Result{Outcome: delivery.Blocked, Error: "blocked: the address is not public"},
			detail: "internal.example.com (10.1.2.3)",
		},
		{
			name: "no such host",
			attempt: func(t *testing.T) (*sender.Sender, string) {
				g := dnsGuard(&net.DNSError{Err: "no such host", Server: resolver, IsNotFound: true})
				return guardedSender(g, timeout), "https://gone.example.com/hook"
			},
			want:   sender.Result{Outcome: delivery.ConnectionError, Error: "DNS lookup failed: no such host"},
			detail: resolver,
		},
		{
			name: "DNS timeout",
			attempt: func(t *testing.T) (*sender.Sender, string) {
				g := dnsGuard(&net.DNSError{Err: "i/o timeout", Server: resolver, IsTimeout: true})
				return guardedSender(g, timeout), "https://slow.example.com/hook"
			},
			want:   sender.Result{Outcome: delivery.Timeout, Error: "DNS lookup timed out"},
			detail: resolver,
		},
		{
			name: "DNS failure",
			attempt: func(t *testing.T) (*sender.Sender, string) {
				g := dnsGuard(&net.DNSError{Err: "server misbehaving", Server: resolver, IsTemporary: true})
				return guardedSender(g, timeout), "https://broken.example.com/hook"
			},
			want:   sender.Result{Outcome: delivery.ConnectionError, Error: "DNS lookup failed"},
			detail: resolver,
		},
		{
			name: "timeout while connecting",
			attempt: func(t *testing.T) (*sender.Sender, string) {
				s := sender.New(sender.Config{Timeout: 100 * time.Millisecond, UserAgent: testUserAgent,
					Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
						// The transport may dial on after the attempt gave up, for
						// a later request; the end of the test stops that too.
						select {
						case <-ctx.Done():
							return nil, ctx.Err()
						case <-t.Context().Done():
							return nil, t.Context().Err()
						}
					}})
				return s, "https://example.com/hook"
			},
			want:   sender.Result{Outcome: delivery.Timeout, Error: "timed out after 100ms connecting"},
			detail: "deadline",
		},
		{
			name: "https to a receiver without TLS",
			attempt: func(t *testing.T) (*sender.Sender, string) {
				return newSender(timeout), "https://" + newReceiver(t, nil).Addr() + "/hook"
			},
			want:   sender.Result{Outcome: delivery.ConnectionError, Error: "TLS handshake failed: the receiver did not answer with TLS"},
			detail: "HTTPS",
		},
		{
			name: "unknown authority",
			attempt: func(t *testing.T) (*sender.Sender, string) {
				return newSender(timeout), newTLSReceiver(t, unreachable(t), nil).URL
			},
			want:   sender.Result{Outcome: delivery.ConnectionError, Error: "TLS handshake failed: certificate signed by an unknown authority"},
			detail: "x509",
		},
		{
			name: "expired certificate",
			attempt: func(t *testing.T) (*sender.Sender, string) {
				srv := newTLSReceiver(t, unreachable(t), &tls.Config{Certificates: []tls.Certificate{expiredCert(t)}})
				return newSender(timeout), srv.URL
			},
			want:   sender.Result{Outcome: delivery.ConnectionError, Error: "TLS handshake failed: certificate expired or not yet valid"},
			detail: "expired",
		},
		{
			name: "certificate for another host",
			attempt: func(t *testing.T) (*sender.Sender, string) {
				srv := newTLSReceiver(t, unreachable(t), nil)
				_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
				return trusting(guardedSender(loopbackGuard(), timeout), srv), "https://receiver.test:" + port + "/hook"
			},
			want:   sender.Result{Outcome: delivery.ConnectionError, Error: "TLS handshake failed: certificate is not valid for this host"},
			detail: "receiver.test",
		},
		{
			name: "handshake refused",
			attempt: func(t *testing.T) (*sender.Sender, string) {
				// TLS 1.2 refuses a missing client certificate within the
				// handshake (1.3 does it after).
				srv := newTLSReceiver(t, unreachable(t), &tls.Config{MaxVersion: tls.VersionTLS12, ClientAuth: tls.RequireAnyClientCert})
				return trusting(newSender(timeout), srv), srv.URL
			},
			want:   sender.Result{Outcome: delivery.ConnectionError, Error: "TLS handshake failed"},
			detail: "tls",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, url := tt.attempt(t)
			res := s.Send(context.Background(), request(url))
			if diff := cmp.Diff(tt.want, res, resultOpts); diff != "" {
				t.Errorf("Result mismatch (-want +got):\n%s", diff)
			}
			if !strings.Contains(res.Detail, tt.detail) {
				t.Errorf("Detail = %q, want it to name %q", res.Detail, tt.detail)
			}
		})
	}
}
