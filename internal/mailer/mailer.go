// Package mailer sends mail through an SMTP relay: one recipient per
// message, a text and an HTML alternative, always over TLS. It does not
// decide what a mail says (package noticemail) nor when it is sent, and it
// does not retry: Permanent tells the caller whether a retry could help.
package mailer

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strings"

	gomail "github.com/wneessen/go-mail"
)

// ErrInvalidMessage is returned, before any connection is made, for a
// message that cannot be sent as given: a To that is not one address, a
// line break in a header (header injection), a missing body, a bad
// unsubscribe URL. Sending it again cannot succeed.
var ErrInvalidMessage = errors.New("invalid message")

// Message is one mail to one recipient.
type Message struct {
	To      string
	Subject string
	// Text and HTML are the two alternatives of the body; both are needed.
	Text string
	HTML string
	// UnsubscribeURL, when set, is announced in List-Unsubscribe; an https
	// URL also gets List-Unsubscribe-Post for one-click unsubscribing
	// (RFC 8058), which allows no other scheme.
	UnsubscribeURL string
}

// Mailer sends messages through the relay of its Config. It is safe for
// concurrent use.
type Mailer struct {
	cfg Config
	tls *tls.Config
}

// New returns a Mailer for the relay. It connects nowhere until Send.
func New(cfg Config) *Mailer {
	return &Mailer{cfg: cfg, tls: &tls.Config{
		ServerName: cfg.Host,
		RootCAs:    cfg.RootCAs,
		MinVersion: tls.VersionTLS12,
	}}
}

// Send delivers msg to the relay within the Config's timeout. Each Send
// has a connection of its own: notices are rare, relays drop idle
// connections, and no connection state outlives a failure. An error that
// Permanent calls permanent will fail again; any other may be retried.
// The error never contains the password.
func (m *Mailer) Send(ctx context.Context, msg Message) error {
	gm, err := m.build(msg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.timeout())
	defer cancel()
	client, err := gomail.NewClient(m.cfg.Host, m.options(ctx)...)
	if err != nil {
		return fmt.Errorf("mail client for %s: %w", m.cfg.addr(), err)
	}
	if err := client.DialAndSendWithContext(ctx, gm); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w: %w", ctxErr, err)
		}
		return fmt.Errorf("send mail to %s via %s: %w", msg.To, m.cfg.addr(), err)
	}
	return nil
}

// options configures go-mail for one Send.
func (m *Mailer) options(ctx context.Context) []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(m.cfg.Port),
		gomail.WithTimeout(m.cfg.timeout()),
		gomail.WithTLSConfig(m.tls),
		gomail.WithDialContextFunc(m.dialer(ctx)),
	}
	if m.cfg.TLS == ImplicitTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		// Mandatory: a relay that offers no STARTTLS, or a man in the
		// middle who strips it, gets no password and no mail.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if m.cfg.User != "" {
		// PLAIN is what relays offer; LOGIN for those that offer only
		// that. The connection is encrypted by then in either mode.
		opts = append(opts,
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
			gomail.WithUsername(m.cfg.User), gomail.WithPassword(m.cfg.Password))
	}
	return opts
}

// dialer connects to the relay, with TLS from the first byte in implicit
// mode, and closes the connection when ctx, the Send's own, ends: go-mail
// heeds its context only while dialing, and leaves the connection open
// when the session fails before AUTH (no STARTTLS, say).
func (m *Mailer) dialer(ctx context.Context) gomail.DialContextFunc {
	return func(dialCtx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		var conn net.Conn
		var err error
		if m.cfg.TLS == ImplicitTLS {
			conn, err = (&tls.Dialer{NetDialer: &d, Config: m.tls}).DialContext(dialCtx, network, addr)
		} else {
			conn, err = d.DialContext(dialCtx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		context.AfterFunc(ctx, func() { conn.Close() })
		return conn, nil
	}
}

// build checks msg and makes it a go-mail message.
func (m *Mailer) build(msg Message) (*gomail.Msg, error) {
	for _, h := range []struct{ name, value string }{{"To", msg.To}, {"Subject", msg.Subject}} {
		if strings.ContainsAny(h.value, "\r\n\x00") {
			return nil, fmt.Errorf("%w: %s %q contains a line break or NUL", ErrInvalidMessage, h.name, h.value)
		}
	}
	to, err := mail.ParseAddress(msg.To)
	if err != nil {
		return nil, fmt.Errorf("%w: To %q is not one mail address: %w", ErrInvalidMessage, msg.To, err)
	}
	if msg.Text == "" || msg.HTML == "" {
		return nil, fmt.Errorf("%w: to %s: both a text and an HTML body are needed", ErrInvalidMessage, msg.To)
	}
	gm := gomail.NewMsg() // UTF-8, quoted-printable
	gm.FromMailAddress(&m.cfg.From)
	gm.ToMailAddress(to)
	gm.Subject(msg.Subject)
	gm.SetDate()
	// Named for the sender's domain, not this machine's host name.
	gm.SetMessageIDWithValue(rand.Text() + "@" + domain(m.cfg.From.Address))
	// RFC 3834: no out-of-office replies to a machine.
	gm.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	if msg.UnsubscribeURL != "" {
		if err := setUnsubscribe(gm, msg.UnsubscribeURL); err != nil {
			return nil, err
		}
	}
	gm.SetBodyString(gomail.TypeTextPlain, msg.Text)
	gm.AddAlternativeString(gomail.TypeTextHTML, msg.HTML)
	return gm, nil
}

// setUnsubscribe announces the unsubscribe URL. The header is written as
// given, so the URL must be one that cannot end the <…> or the line.
func setUnsubscribe(gm *gomail.Msg, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.ContainsAny(u.String(), "<>\", \t") {
		return fmt.Errorf("%w: unsubscribe URL %q is not an http(s) URL fit for a header", ErrInvalidMessage, raw)
	}
	if u.Scheme == "http" {
		gm.SetListUnsubscribe(u.String())
		return nil
	}
	if err := gm.SetListUnsubscribeOneClick(u.String()); err != nil {
		return fmt.Errorf("%w: unsubscribe URL: %w", ErrInvalidMessage, err)
	}
	return nil
}

// domain is the part of an address after its last @.
func domain(address string) string {
	return address[strings.LastIndex(address, "@")+1:]
}

// Permanent reports whether err means the message will never be accepted
// as it is: the relay answered 5xx to its recipient or its content, or it
// was refused before sending (ErrInvalidMessage). A 4xx, a network or TLS
// failure, a failed AUTH and a 5xx to the sender (MAIL FROM) are not:
// they are the relay's outage or its configuration, which end, and the
// mail must wait for that rather than be dropped.
func Permanent(err error) bool {
	if errors.Is(err, ErrInvalidMessage) {
		return true
	}
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Reason {
	case gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
		return se.ErrorCode() >= 500 && se.ErrorCode() <= 599
	}
	return false
}
