package mailer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/mailer"
	"github.com/trackelio/webhooks/internal/smtptest"
	"github.com/trackelio/webhooks/internal/testreceiver"
)

const (
	user     = "relay-user"
	password = "pä$$/w:rd@42" // needs percent-encoding in the URL
	from     = "Trackelio <notices@example.com>"
)

// setup starts a relay with AUTH and returns it with a Mailer that
// trusts it.
func setup(tb testing.TB, mode smtptest.Mode) (*smtptest.Server, *mailer.Mailer) {
	tb.Helper()
	srv := smtptest.New(tb, smtptest.Config{Mode: mode, User: user, Password: password})
	return srv, mailer.New(mustConfig(tb, srv, srv.URL()))
}

// mustConfig parses smtpURL with the relay's certificate trusted.
func mustConfig(tb testing.TB, srv *smtptest.Server, smtpURL string) mailer.Config {
	tb.Helper()
	cfg, err := mailer.Parse(smtpURL, from)
	if err != nil {
		tb.Fatalf("Parse(%s): %v", smtpURL, err)
	}
	cfg.RootCAs = srv.CertPool()
	cfg.Timeout = 10 * time.Second
	return cfg
}

func message() mailer.Message {
	return mailer.Message{
		To:      "Owner <owner@example.org>",
		Subject: "Webhook failing: https://example.com/hooks — Grüße",
		Text:    "Deliveries are failing.\nA line long enough that quoted-printable has to break it softly, at seventy-six characters — ünïcödé.\n",
		HTML:    `<p style="margin:0">Deliveries are <b>failing</b> — ünïcödé.</p>`,
		// A query and an escape, as a real token has.
		UnsubscribeURL: "https://app.example.com/unsubscribe?token=a%2Bb",
	}
}

// wantNoSecret fails the test if err's text holds the password.
func wantNoSecret(tb testing.TB, err error) {
	tb.Helper()
	if err != nil && (strings.Contains(err.Error(), password) || strings.Contains(err.Error(), "p%C3%A4")) {
		tb.Errorf("error contains the password: %v", err)
	}
}

// sent is a received message as a reader of mail sees it.
type sent struct {
	EnvelopeFrom, EnvelopeTo string
	From, To, Subject        string
	Header                   map[string]string
	Parts                    []string // "content type: decoded body"
}

// readSent parses a received message with net/mail and mime/multipart.
func readSent(tb testing.TB, r smtptest.Received) sent {
	tb.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(r.Data))
	if err != nil {
		tb.Fatalf("read message: %v\n%s", err, r.Data)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		tb.Fatalf("decode subject %q: %v", m.Header.Get("Subject"), err)
	}
	got := sent{EnvelopeFrom: r.From, EnvelopeTo: strings.Join(r.To, ","), From: m.Header.Get("From"), To: m.Header.Get("To"), Subject: subject, Header: map[string]string{}}
	for _, h := range []string{"List-Unsubscribe", "List-Unsubscribe-Post", "Auto-Submitted"} {
		got.Header[h] = m.Header.Get(h)
	}
	if id := m.Header.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") {
		tb.Errorf("Message-ID = %q, want <…@example.com>", id)
	}
	if _, err := m.Header.Date(); err != nil {
		tb.Errorf("Date: %v", err)
	}
	mediatype, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mediatype != "multipart/alternative" {
		tb.Fatalf("Content-Type = %q (%v), want multipart/alternative", m.Header.Get("Content-Type"), err)
	}
	parts := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := parts.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatalf("next part: %v", err)
		}
		if cte := p.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
			tb.Errorf("part %s is %q, want quoted-printable", p.Header.Get("Content-Type"), cte)
		}
		body, err := io.ReadAll(quotedprintable.NewReader(p))
		if err != nil {
			tb.Fatalf("decode part: %v", err)
		}
		got.Parts = append(got.Parts, p.Header.Get("Content-Type")+": "+strings.ReplaceAll(string(body), "\r\n", "\n"))
	}
	return got
}

// TestSend: what a recipient gets, through STARTTLS with AUTH and
// through implicit TLS.
func TestSend(t *testing.T) {
	t.Parallel()
	msg := message()
	want := sent{
		EnvelopeFrom: "notices@example.com",
		EnvelopeTo:   "owner@example.org",
		From:         `"Trackelio" <notices@example.com>`,
		To:           `"Owner" <owner@example.org>`,
		Subject:      msg.Subject,
		Header: map[string]string{
			"List-Unsubscribe":      "<https://app.example.com/unsubscribe?token=a%2Bb>",
			"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
			"Auto-Submitted":        "auto-generated",
		},
		Parts: []string{
			"text/plain; charset=UTF-8: " + msg.Text,
			"text/html; charset=UTF-8: " + msg.HTML,
		},
	}
	for _, mode := range []smtptest.Mode{smtptest.StartTLS, smtptest.ImplicitTLS} {
		srv, m := setup(t, mode)
		if err := m.Send(t.Context(), msg); err != nil {
			t.Fatalf("Send via %s: %v", srv.URL(), err)
		}
		got := srv.WaitFor(t, 1, 5*time.Second)
		if len(got) != 1 {
			t.Fatalf("%d messages received, want 1", len(got))
		}
		if diff := cmp.Diff(want, readSent(t, got[0])); diff != "" {
			t.Errorf("sent via %s (-want +got):\n%s", srv.URL(), diff)
		}
	}
}

// TestSendPlainUnsubscribe: an http unsubscribe URL is announced, but
// one-click (RFC 8058) needs https.
func TestSendPlainUnsubscribe(t *testing.T) {
	t.Parallel()
	srv, m := setup(t, smtptest.StartTLS)
	msg := message()
	msg.UnsubscribeURL = "http://localhost:8080/unsubscribe?token=x"
	if err := m.Send(t.Context(), msg); err != nil {
		t.Fatal(err)
	}
	h := readSent(t, srv.WaitFor(t, 1, 5*time.Second)[0]).Header
	if h["List-Unsubscribe"] != "<http://localhost:8080/unsubscribe?token=x>" || h["List-Unsubscribe-Post"] != "" {
		t.Errorf("List-Unsubscribe %q, List-Unsubscribe-Post %q; want the URL and none", h["List-Unsubscribe"], h["List-Unsubscribe-Post"])
	}
}

// TestSendFails: every way a Send fails, whether a retry could help, and
// that the error says why without the password.
func TestSendFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		mode      smtptest.Mode
		failing   int                                    // the relay's answer to RCPT TO
		config    func(*smtptest.Server, *mailer.Config) // changes to the mailer's settings
		wantErr   string
		permanent bool
	}{
		{name: "451 temporary", failing: 451, wantErr: "451"},
		{name: "550 no such user", failing: 550, wantErr: "550", permanent: true},
		{name: "554 rejected", mode: smtptest.ImplicitTLS, failing: 554, wantErr: "554", permanent: true},
		{
			name:    "wrong password",
			config:  func(_ *smtptest.Server, c *mailer.Config) { c.Password = password + "-wrong" },
			wantErr: "535",
		},
		{
			name:    "no STARTTLS offered",
			mode:    smtptest.NoTLS,
			wantErr: "STARTTLS",
		},
		{
			name:    "untrusted certificate",
			config:  func(_ *smtptest.Server, c *mailer.Config) { c.RootCAs = nil },
			wantErr: "certificate",
		},
		{
			name:    "untrusted certificate, implicit TLS",
			mode:    smtptest.ImplicitTLS,
			config:  func(_ *smtptest.Server, c *mailer.Config) { c.RootCAs = nil },
			wantErr: "certificate",
		},
		{
			name:    "relay down",
			config:  func(srv *smtptest.Server, _ *mailer.Config) { srv.Stop() },
			wantErr: "connection refused",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := smtptest.New(t, smtptest.Config{Mode: tt.mode, User: user, Password: password})
			srv.SetFailing(tt.failing)
			cfg := mustConfig(t, srv, srv.URL())
			if tt.config != nil {
				tt.config(srv, &cfg)
			}
			err := mailer.New(cfg).Send(t.Context(), message())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Send: %v, want an error with %q", err, tt.wantErr)
			}
			wantNoSecret(t, err)
			if got := mailer.Permanent(err); got != tt.permanent {
				t.Errorf("Permanent(%v) = %v, want %v", err, got, tt.permanent)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("the relay accepted %d messages", n)
			}
		})
	}
}

// TestSendAfterOutage: a Send during an outage fails, to be retried, and
// the retry once the relay is back delivers the one message.
func TestSendAfterOutage(t *testing.T) {
	t.Parallel()
	srv, m := setup(t, smtptest.StartTLS)
	srv.Stop()
	err := m.Send(t.Context(), message())
	if err == nil || mailer.Permanent(err) {
		t.Fatalf("Send with the relay down: %v, want an error to retry", err)
	}
	srv.Restart(t)
	if err := m.Send(t.Context(), message()); err != nil {
		t.Fatalf("Send with the relay back: %v", err)
	}
	if n := len(srv.WaitFor(t, 1, 5*time.Second)); n != 1 {
		t.Errorf("%d messages received, want 1", n)
	}
}

// TestSendCancelled: a cancelled Send stops, and says why.
func TestSendCancelled(t *testing.T) {
	t.Parallel()
	srv, m := setup(t, smtptest.StartTLS)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := m.Send(ctx, message())
	if !errors.Is(err, context.Canceled) || mailer.Permanent(err) {
		t.Errorf("Send with a cancelled context: %v, want context.Canceled, not permanent", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("the relay accepted %d messages", n)
	}
}

// TestSendRefusesBadMessage: a message that cannot be sent as given is
// refused before connecting, permanently.
func TestSendRefusesBadMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*mailer.Message)
	}{
		{"CRLF in To", func(m *mailer.Message) { m.To = "owner@example.org\r\nBcc: all@example.org" }},
		{"LF in To", func(m *mailer.Message) { m.To = "owner@example.org\nBcc: all@example.org" }},
		{"NUL in To", func(m *mailer.Message) { m.To = "owner@example.org\x00" }},
		{"CRLF in Subject", func(m *mailer.Message) { m.Subject = "Hi\r\nBcc: all@example.org" }},
		{"CR in Subject", func(m *mailer.Message) { m.Subject = "Hi\rthere" }},
		{"two recipients", func(m *mailer.Message) { m.To = "a@example.org, b@example.org" }},
		{"no recipient", func(m *mailer.Message) { m.To = "" }},
		{"no HTML", func(m *mailer.Message) { m.HTML = "" }},
		{"CRLF in unsubscribe URL", func(m *mailer.Message) { m.UnsubscribeURL = "https://x.example/u\r\nBcc: all@example.org" }},
		{"> in unsubscribe URL", func(m *mailer.Message) { m.UnsubscribeURL = "https://x.example/u?t=a>b" }},
		{"mailto unsubscribe", func(m *mailer.Message) { m.UnsubscribeURL = "mailto:unsubscribe@example.com" }},
	}
	srv, m := setup(t, smtptest.StartTLS)
	for _, tt := range tests {
		msg := message()
		tt.change(&msg)
		err := m.Send(t.Context(), msg)
		if !errors.Is(err, mailer.ErrInvalidMessage) || !mailer.Permanent(err) {
			t.Errorf("%s: Send: %v, want ErrInvalidMessage, permanent", tt.name, err)
		}
	}
	if n := srv.Connections(); n != 0 {
		t.Errorf("the relay got %d connections, want none", n)
	}
}

// TestPermanentOther: errors that are not Send's are not permanent.
func TestPermanentOther(t *testing.T) {
	t.Parallel()
	for _, err := range []error{nil, errors.New("dial tcp: connection refused"), context.DeadlineExceeded} {
		if mailer.Permanent(err) {
			t.Errorf("Permanent(%v) = true", err)
		}
	}
}

// TestSendClosedPort: nothing listening is an outage, not a lost mail.
func TestSendClosedPort(t *testing.T) {
	t.Parallel()
	cfg, err := mailer.Parse("smtp://"+testreceiver.ClosedAddr(t), from)
	if err != nil {
		t.Fatal(err)
	}
	if err := mailer.New(cfg).Send(t.Context(), message()); err == nil || mailer.Permanent(err) {
		t.Errorf("Send to a closed port: %v, want an error to retry", err)
	}
}
