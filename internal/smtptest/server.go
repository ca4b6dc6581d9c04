// Package smtptest is the SMTP relay of the tests: Server, a real SMTP
// server (go-smtp) on loopback that speaks STARTTLS or implicit TLS with
// a certificate of its own, requires AUTH PLAIN when given a user, records
// every message it accepts, fails on demand, and can go down and come
// back on the same port.
package smtptest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/trackelio/webhooks/internal/testwait"
)

// Mode is how a Server encrypts its connections.
type Mode int

const (
	// StartTLS offers STARTTLS on a plain connection (smtp://).
	StartTLS Mode = iota
	// ImplicitTLS speaks TLS from the first byte (smtps://).
	ImplicitTLS
	// NoTLS offers no TLS at all, and so no AUTH: the relay a mailer
	// must refuse to send through.
	NoTLS
)

// Config says how a Server speaks.
type Config struct {
	Mode Mode
	// User and Password, when User is set, must authenticate with AUTH
	// PLAIN before MAIL FROM; AUTH is offered only over TLS, and a wrong
	// password is answered 535.
	User     string
	Password string
}

// Received is one message a Server accepted, as it arrived.
type Received struct {
	From string   // the envelope sender (MAIL FROM)
	To   []string // the envelope recipients (RCPT TO)
	Data []byte   // the message, headers and body, with CRLF line ends
}

// Server is an SMTP relay on 127.0.0.1 that records what it accepts.
type Server struct {
	cfg  Config
	tls  *tls.Config
	pool *x509.CertPool
	addr string // host:port, kept across Stop and Restart

	mu      sync.Mutex
	running *running
	got     []Received
	failing int
	conns   int
}

// running is one life of the server, from New or Restart to Stop.
type running struct {
	srv    *smtp.Server
	ln     net.Listener
	served chan struct{} // closed when Serve has returned
	log    *testLogger
}

// New starts a Server on 127.0.0.1:0 that stops when the test ends.
func New(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	cert, pool := selfSigned(tb)
	s := &Server{cfg: cfg, tls: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, pool: pool}
	s.start(tb, "127.0.0.1:0")
	tb.Cleanup(s.Stop)
	return s
}

// URL is the server's address as SMTP_URL: smtp://user:password@host:port
// (for StartTLS and NoTLS) or smtps://…, the user and password
// percent-encoded, left out without a user.
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.addr}
	if s.cfg.Mode == ImplicitTLS {
		u.Scheme = "smtps"
	}
	if s.cfg.User != "" {
		u.User = url.UserPassword(s.cfg.User, s.cfg.Password)
	}
	return u.String()
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// CertPool holds the server's self-signed certificate, for a client to
// trust it.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// Messages returns the messages accepted so far, in the order received.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.got...)
}

// WaitFor waits until at least n messages have arrived and returns all
// of them; it fails the test if they have not within timeout. Call it from
// the test's goroutine.
func (s *Server) WaitFor(tb testing.TB, n int, timeout time.Duration) []Received {
	tb.Helper()
	testwait.For(tb, timeout, fmt.Sprintf("%d messages at the SMTP server (got %d before the end)", n, len(s.Messages())), func() bool {
		return len(s.Messages()) >= n
	})
	return s.Messages()
}

// SetFailing makes the server answer every RCPT TO with code, as 451 for
// a relay's temporary trouble or 550 for a mailbox that does not exist,
// until it is set back to 0.
func (s *Server) SetFailing(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = code
}

// Connections is how many connections the server has accepted, over all
// its lives.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Stop takes the server down: it closes the listener and every open
// connection, so clients get "connection refused" until Restart. The
// messages received are kept. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	r := s.running
	s.running = nil
	s.mu.Unlock()
	if r == nil {
		return
	}
	r.srv.Close()
	// Close closes only the listeners Serve has registered, and Serve may
	// not have started yet.
	r.ln.Close()
	<-r.served
	r.log.stop()
}

// Restart brings a stopped server back on the same port, with the same
// certificate and the messages it had.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	up := s.running != nil
	s.mu.Unlock()
	if up {
		tb.Fatal("smtptest: Restart of a server that is running; Stop it first")
	}
	s.start(tb, s.addr)
}

// start listens on addr and serves until Stop.
func (s *Server) start(tb testing.TB, addr string) {
	tb.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatalf("smtptest: listen on %s: %v", addr, err)
	}
	s.addr = ln.Addr().String()
	var l net.Listener = countingListener{Listener: ln, s: s}
	r := &running{srv: smtp.NewServer(smtp.BackendFunc(s.newSession)), ln: ln, served: make(chan struct{}), log: &testLogger{tb: tb}}
	r.srv.Domain = "smtptest.localhost"
	r.srv.ErrorLog = r.log
	// A client that stalls must not hold a goroutine past the test.
	r.srv.ReadTimeout, r.srv.WriteTimeout = 10*time.Second, 10*time.Second
	switch s.cfg.Mode {
	case StartTLS:
		r.srv.TLSConfig = s.tls
	case ImplicitTLS:
		l = tls.NewListener(l, s.tls)
	}
	s.mu.Lock()
	s.running = r
	s.mu.Unlock()
	go func() {
		defer close(r.served)
		// Serve returns nil once Stop closes it; an accept error it
		// cannot retry shows as connections refused.
		_ = r.srv.Serve(l)
	}()
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	s *Server
}

func (l countingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err == nil {
		l.s.mu.Lock()
		l.s.conns++
		l.s.mu.Unlock()
	}
	return conn, err
}

// testLogger passes the go-smtp server's errors to the test log until
// the server stops: its goroutines may outlive the test by a moment.
type testLogger struct {
	mu      sync.Mutex
	tb      testing.TB
	stopped bool
}

func (l *testLogger) Printf(format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.tb.Logf("smtptest: "+format, v...)
	}
}

func (l *testLogger) Println(v ...any) { l.Printf("%s", fmt.Sprintln(v...)) }

func (l *testLogger) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
}

// session is one client's conversation.
type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

func (s *Server) newSession(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }

// AuthMechanisms offers PLAIN when the server has a user; go-smtp offers
// it only over TLS.
func (ss *session) AuthMechanisms() []string {
	if ss.s.cfg.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, password string) error {
		if user != ss.s.cfg.User || password != ss.s.cfg.Password {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.cfg.User != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	code := ss.s.failing
	ss.s.mu.Unlock()
	if code != 0 {
		// Quoting the recipient, as real relays do ("<a@b>: Recipient
		// address rejected"): a sender must not log it from there.
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: "<" + to + ">: smtptest fails on purpose"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	ss.s.got = append(ss.s.got, Received{From: ss.from, To: ss.to, Data: data})
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }
