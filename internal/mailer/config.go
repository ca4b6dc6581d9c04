package mailer

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TLSMode is how the connection to the relay is encrypted. There is no
// mode without TLS: the relay gets the password and the owners' addresses.
type TLSMode int

const (
	// StartTLS connects in plain text and upgrades with STARTTLS, which
	// the relay must offer (smtp://, port 587).
	StartTLS TLSMode = iota
	// ImplicitTLS speaks TLS from the first byte (smtps://, port 465).
	ImplicitTLS
)

// String names the mode for logs.
func (m TLSMode) String() string {
	if m == ImplicitTLS {
		return "implicit TLS"
	}
	return "STARTTLS required"
}

// DefaultTimeout bounds one Send when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Config is where and as whom mail is sent. Parse builds it from the
// service's settings; the zero value of each optional field is useful.
type Config struct {
	// Host and Port are the relay's; the certificate must name Host.
	Host string
	Port int
	TLS  TLSMode
	// User and Password authenticate with AUTH PLAIN (or LOGIN when the
	// relay offers only that), always over TLS. No user: no AUTH.
	User     string
	Password string
	// From is the sender of every mail, also the envelope sender.
	From mail.Address
	// RootCAs, when set, are the authorities the relay's certificate must
	// chain to instead of the system's: a company relay's own CA, or a
	// test server's certificate.
	RootCAs *x509.CertPool
	// Timeout bounds one Send, connection included (zero: DefaultTimeout).
	Timeout time.Duration
}

// Parse reads the relay settings: smtpURL is SMTP_URL, either
// smtp://[user:password@]host[:port] (STARTTLS, required; port 587) or
// smtps://[user:password@]host[:port] (implicit TLS; port 465), with the
// user and password percent-encoded; from is SMTP_FROM, one address with
// an optional display name. The errors say what to write instead, and
// never quote the password.
func Parse(smtpURL, from string) (Config, error) {
	cfg, err := parseURL(smtpURL)
	if err != nil {
		return Config{}, err
	}
	if cfg.From, err = parseFrom(from); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

const urlForms = "write smtp://user:password@host:587 (STARTTLS) or smtps://user:password@host:465 (implicit TLS)"

// parseURL reads SMTP_URL. The user information is cut off before
// net/url sees the rest, and only the scheme is ever quoted in an error,
// so that no error can carry the password or a piece of it.
func parseURL(raw string) (Config, error) {
	if strings.TrimSpace(raw) == "" {
		return Config{}, fmt.Errorf("SMTP_URL is empty: %s", urlForms)
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return Config{}, fmt.Errorf("SMTP_URL does not start with smtp:// or smtps://: %s", urlForms)
	}
	var cfg Config
	switch strings.ToLower(scheme) {
	case "smtp":
		cfg.TLS, cfg.Port = StartTLS, 587
	case "smtps":
		cfg.TLS, cfg.Port = ImplicitTLS, 465
	default:
		return Config{}, fmt.Errorf("SMTP_URL scheme %q is not supported: %s", scheme, urlForms)
	}
	// The authority ends at the first /, ? or #; its last @ ends the
	// user information, whose password may hold any other character.
	authority := rest
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		authority = rest[:end]
	}
	at := strings.LastIndex(authority, "@")
	if at >= 0 {
		var err error
		if cfg.User, cfg.Password, err = parseUserinfo(authority[:at]); err != nil {
			return Config{}, err
		}
		rest = rest[at+1:]
	}
	u, err := url.Parse("smtp://" + rest)
	if err != nil {
		var uerr *url.Error
		if (at >= 0 || !strings.Contains(rest, "@")) && errors.As(err, &uerr) {
			return Config{}, fmt.Errorf("SMTP_URL is not a valid URL (%w): %s", uerr.Err, urlForms)
		}
		// An @ after a / ? or # is a password with one of those in it:
		// what net/url says about it may quote the password.
		return Config{}, fmt.Errorf("SMTP_URL is not a valid URL: %s, and percent-encode characters such as / ? # @ : in the user and password", urlForms)
	}
	switch {
	case u.Path != "" || u.Fragment != "":
		return Config{}, fmt.Errorf("SMTP_URL has a path or fragment after the host: remove it; %s", urlForms)
	case u.RawQuery != "" || u.ForceQuery:
		return Config{}, fmt.Errorf("SMTP_URL has query parameters, and none is known: remove them; %s", urlForms)
	case u.Hostname() == "":
		return Config{}, fmt.Errorf("SMTP_URL has no host: %s", urlForms)
	}
	cfg.Host = u.Hostname()
	if p := u.Port(); p != "" {
		if cfg.Port, err = strconv.Atoi(p); err != nil || cfg.Port < 1 || cfg.Port > 65535 {
			return Config{}, errors.New("SMTP_URL has a port that is not a number from 1 to 65535: write host:587 for STARTTLS or host:465 for implicit TLS")
		}
	}
	return cfg, nil
}

// parseUserinfo reads user:password, each percent-decoded.
func parseUserinfo(info string) (user, password string, err error) {
	rawUser, rawPassword, _ := strings.Cut(info, ":")
	if user, err = url.PathUnescape(rawUser); err != nil {
		return "", "", errors.New("SMTP_URL has a bad %-escape in the user name: write a character as % and two hex digits, e.g. %40 for @")
	}
	if password, err = url.PathUnescape(rawPassword); err != nil {
		return "", "", errors.New("SMTP_URL has a bad %-escape in the password: write a character as % and two hex digits, e.g. %40 for @, %25 for %")
	}
	switch {
	case user == "" && password != "":
		return "", "", errors.New("SMTP_URL has a password but no user name: write smtp://user:password@host")
	case user != "" && password == "":
		return "", "", errors.New("SMTP_URL has a user name but no password: write smtp://user:password@host, or leave both out for a relay without AUTH")
	}
	return user, password, nil
}

// parseFrom reads SMTP_FROM.
func parseFrom(from string) (mail.Address, error) {
	const forms = `write one address such as notices@example.com or "Trackelio <notices@example.com>"`
	if strings.ContainsAny(from, "\r\n\x00") {
		return mail.Address{}, fmt.Errorf("SMTP_FROM contains a line break or NUL: %s", forms)
	}
	if strings.TrimSpace(from) == "" {
		return mail.Address{}, fmt.Errorf("SMTP_FROM is empty: %s", forms)
	}
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return mail.Address{}, fmt.Errorf("SMTP_FROM %q is not one mail address (%w): %s", from, err, forms)
	}
	return *addr, nil
}

// Describe says where mail goes, for a startup log line: the relay, its
// TLS mode and the sender, without the user name or password.
func (c Config) Describe() string {
	auth := "no AUTH"
	if c.User != "" {
		auth = "AUTH with a password"
	}
	return fmt.Sprintf("SMTP relay %s (%s, %s), from %s", c.addr(), c.TLS, auth, c.From.String())
}

// addr is the relay's host:port.
func (c Config) addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// timeout is how long one Send may take.
func (c Config) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}
