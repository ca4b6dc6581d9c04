package smtptest_test

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/smtptest"
)

const message = "Subject: hello\r\n\r\nbody\r\n"

// dial connects as the mode wants, trusting the server's certificate.
func dial(tb testing.TB, srv *smtptest.Server, mode smtptest.Mode) *smtp.Client {
	tb.Helper()
	tlsCfg := &tls.Config{RootCAs: srv.CertPool(), ServerName: "127.0.0.1"}
	var c *smtp.Client
	var err error
	switch mode {
	case smtptest.StartTLS:
		c, err = smtp.DialStartTLS(srv.Addr(), tlsCfg)
	case smtptest.ImplicitTLS:
		c, err = smtp.DialTLS(srv.Addr(), tlsCfg)
	default:
		c, err = smtp.Dial(srv.Addr())
	}
	if err != nil {
		tb.Fatalf("dial %s: %v", srv.Addr(), err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// send sends one message with AUTH PLAIN (when password is set) and
// returns the SMTP code of the first step that failed, 0 for none.
func send(tb testing.TB, c *smtp.Client, user, password string) int {
	tb.Helper()
	if password != "" {
		if err := c.Auth(sasl.NewPlainClient("", user, password)); err != nil {
			return code(tb, err)
		}
	}
	if err := c.SendMail("notices@example.com", []string{"owner@example.org"}, strings.NewReader(message)); err != nil {
		return code(tb, err)
	}
	return 0
}

func code(tb testing.TB, err error) int {
	tb.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		tb.Fatalf("not an SMTP reply: %v", err)
	}
	return se.Code
}

func TestServerRecordsWhatItAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode    smtptest.Mode
		wantURL string
	}{
		{smtptest.StartTLS, "smtp://user:p%40ss%2Fw%3Ard@127.0.0.1:"},
		{smtptest.ImplicitTLS, "smtps://user:p%40ss%2Fw%3Ard@127.0.0.1:"},
	}
	for _, tt := range tests {
		t.Run(tt.wantURL[:5], func(t *testing.T) {
			t.Parallel()
			srv := smtptest.New(t, smtptest.Config{Mode: tt.mode, User: "user", Password: "p@ss/w:rd"})
			if !strings.HasPrefix(srv.URL(), tt.wantURL) {
				t.Errorf("URL() = %s, want it to start with %s", srv.URL(), tt.wantURL)
			}
			c := dial(t, srv, tt.mode)
			if got := send(t, c, "user", "p@ss/w:rd"); got != 0 {
				t.Fatalf("send answered %d", got)
			}
			want := []smtptest.Received{{From: "notices@example.com", To: []string{"owner@example.org"}, Data: []byte(message)}}
			if diff := cmp.Diff(want, srv.WaitFor(t, 1, 5*time.Second)); diff != "" {
				t.Errorf("received (-want +got):\n%s", diff)
			}
			if srv.Connections() != 1 {
				t.Errorf("Connections() = %d, want 1", srv.Connections())
			}
		})
	}
}

// TestServerAuth: with a user, nothing is accepted without the right
// password, and AUTH is never offered in the clear.
func TestServerAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		mode     smtptest.Mode
		password string // "" skips AUTH
		want     int
		accepted int
	}{
		{"right password", smtptest.StartTLS, "secret", 0, 1},
		{"wrong password", smtptest.StartTLS, "wrong", 535, 0},
		{"no AUTH", smtptest.StartTLS, "", 502, 0},
		{"no TLS offers no AUTH", smtptest.NoTLS, "", 502, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := smtptest.New(t, smtptest.Config{Mode: tt.mode, User: "user", Password: "secret"})
			c := dial(t, srv, tt.mode)
			if got := send(t, c, "user", tt.password); got != tt.want {
				t.Errorf("send answered %d, want %d", got, tt.want)
			}
			if ok, _ := c.Extension("AUTH"); ok == (tt.mode == smtptest.NoTLS) {
				t.Errorf("AUTH offered = %v with mode %d", ok, tt.mode)
			}
			if ok, _ := c.Extension("STARTTLS"); ok {
				t.Errorf("STARTTLS offered again, or with mode %d", tt.mode)
			}
			if n := len(srv.Messages()); n != tt.accepted {
				t.Errorf("%d messages accepted, want %d", n, tt.accepted)
			}
		})
	}
}

func TestServerSetFailing(t *testing.T) {
	t.Parallel()
	srv := smtptest.New(t, smtptest.Config{})
	for _, failing := range []int{451, 550, 0} {
		srv.SetFailing(failing)
		if got := send(t, dial(t, srv, smtptest.StartTLS), "", ""); got != failing {
			t.Errorf("with SetFailing(%d) send answered %d", failing, got)
		}
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d messages accepted, want the one sent after SetFailing(0)", n)
	}
}

// TestServerStopsAtOnce: a server stopped before it has served anything
// stops all the same.
func TestServerStopsAtOnce(t *testing.T) {
	t.Parallel()
	for range 20 {
		smtptest.New(t, smtptest.Config{}).Stop()
	}
}

// TestServerStopRestart: a stopped server refuses connections; restarted,
// it is back at the same URL with what it had received.
func TestServerStopRestart(t *testing.T) {
	t.Parallel()
	srv := smtptest.New(t, smtptest.Config{})
	url := srv.URL()
	send(t, dial(t, srv, smtptest.StartTLS), "", "")
	srv.Stop()
	if c, err := smtp.Dial(srv.Addr()); err == nil {
		c.Close()
		t.Fatal("a stopped server accepted a connection")
	}
	srv.Restart(t)
	if srv.URL() != url {
		t.Errorf("URL after Restart = %s, want %s", srv.URL(), url)
	}
	send(t, dial(t, srv, smtptest.StartTLS), "", "")
	if n := len(srv.WaitFor(t, 2, 5*time.Second)); n != 2 {
		t.Errorf("%d messages after the restart, want 2", n)
	}
}
