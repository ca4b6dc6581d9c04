package mailer_test

import (
	"net/mail"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/trackelio/webhooks/internal/mailer"
)

func TestParse(t *testing.T) {
	t.Parallel()
	notices := mail.Address{Address: "notices@example.com"}
	named := mail.Address{Name: "Trackelio", Address: "notices@example.com"}
	tests := []struct {
		name, url, from string
		want            mailer.Config
	}{
		{"STARTTLS default port", "smtp://mail.example.com", "notices@example.com",
			mailer.Config{Host: "mail.example.com", Port: 587, TLS: mailer.StartTLS, From: notices}},
		{"implicit TLS default port", "smtps://mail.example.com", "notices@example.com",
			mailer.Config{Host: "mail.example.com", Port: 465, TLS: mailer.ImplicitTLS, From: notices}},
		{"credentials percent-decoded, own port", "smtp://ap%40key:s%2F3%3Acr%25et@mail.example.com:2525", "Trackelio <notices@example.com>",
			mailer.Config{Host: "mail.example.com", Port: 2525, TLS: mailer.StartTLS, User: "ap@key", Password: "s/3:cr%et", From: named}},
		{"@ left raw in the password", "smtps://user:p@ss@mail.example.com", `"Trackelio" <notices@example.com>`,
			mailer.Config{Host: "mail.example.com", Port: 465, TLS: mailer.ImplicitTLS, User: "user", Password: "p@ss", From: named}},
		{"scheme in capitals, IPv6", "SMTPS://[::1]:465", "notices@example.com",
			mailer.Config{Host: "::1", Port: 465, TLS: mailer.ImplicitTLS, From: notices}},
	}
	for _, tt := range tests {
		got, err := mailer.Parse(tt.url, tt.from)
		if err != nil {
			t.Errorf("%s: Parse(%q, %q): %v", tt.name, tt.url, tt.from, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreUnexported(mailer.Config{})); diff != "" {
			t.Errorf("%s: Parse(%q) (-want +got):\n%s", tt.name, tt.url, diff)
		}
	}
}

// TestParseRefuses: each error names what is wrong in words a person
// setting SMTP_URL or SMTP_FROM can act on, and never holds the password.
func TestParseRefuses(t *testing.T) {
	t.Parallel()
	const secret = "Hunter2Secret"
	tests := []struct {
		name, url, from string
		wantWord        string
	}{
		{"empty URL", "", "notices@example.com", "empty"},
		{"no scheme", "mail.example.com:587", "notices@example.com", "smtp://"},
		{"plain http", "http://u:" + secret + "@mail.example.com", "notices@example.com", `"http" is not supported`},
		{"no TLS scheme", "smtp+insecure://mail.example.com", "notices@example.com", "smtps://"},
		{"path", "smtp://u:" + secret + "@mail.example.com/submit", "notices@example.com", "path"},
		{"fragment", "smtp://u:" + secret + "@mail.example.com#x", "notices@example.com", "path or fragment"},
		{"query", "smtp://u:" + secret + "@mail.example.com?tls=off", "notices@example.com", "query"},
		{"empty query", "smtp://u:" + secret + "@mail.example.com?", "notices@example.com", "query"},
		{"no host", "smtp://u:" + secret + "@:587", "notices@example.com", "no host"},
		{"no host at all", "smtps://", "notices@example.com", "no host"},
		{"port not a number", "smtp://u:" + secret + "@mail.example.com:abc", "notices@example.com", "port"},
		{"port too big", "smtp://u:" + secret + "@mail.example.com:70000", "notices@example.com", "port"},
		{"bad escape in password", "smtp://u:" + secret + "%zz@mail.example.com", "notices@example.com", "password"},
		{"password unescaped /", "smtp://u:" + secret + "/12@mail.example.com", "notices@example.com", "percent-encode"},
		{"password unescaped ?", "smtp://u:" + secret + "?x@mail.example.com", "notices@example.com", "percent-encode"},
		{"password without user", "smtp://:" + secret + "@mail.example.com", "notices@example.com", "no user"},
		{"user without password", "smtp://user@mail.example.com", "notices@example.com", "no password"},
		{"empty From", "smtp://u:" + secret + "@mail.example.com", "", "SMTP_FROM is empty"},
		{"two From", "smtp://u:" + secret + "@mail.example.com", "a@example.com, b@example.com", "one mail address"},
		{"From not an address", "smtp://u:" + secret + "@mail.example.com", "Trackelio", "one mail address"},
		{"CRLF in From", "smtp://u:" + secret + "@mail.example.com", "notices@example.com\r\nBcc: all@example.com", "line break"},
		{"NUL in From", "smtp://u:" + secret + "@mail.example.com", "notices@example.com\x00", "NUL"},
	}
	for _, tt := range tests {
		_, err := mailer.Parse(tt.url, tt.from)
		switch {
		case err == nil:
			t.Errorf("%s: Parse(%q, %q) succeeded", tt.name, tt.url, tt.from)
		case !strings.Contains(err.Error(), tt.wantWord):
			t.Errorf("%s: error %q does not say %q", tt.name, err, tt.wantWord)
		case strings.Contains(err.Error(), secret):
			t.Errorf("%s: error %q holds the password", tt.name, err)
		}
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		want string
	}{
		{"smtp://relay-user:Hunter2Secret@mail.example.com", "SMTP relay mail.example.com:587 (STARTTLS required, AUTH with a password), from \"Trackelio\" <notices@example.com>"},
		{"smtps://[::1]", "SMTP relay [::1]:465 (implicit TLS, no AUTH), from \"Trackelio\" <notices@example.com>"},
	}
	for _, tt := range tests {
		cfg, err := mailer.Parse(tt.url, "Trackelio <notices@example.com>")
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Describe(); got != tt.want {
			t.Errorf("Describe() = %q, want %q", got, tt.want)
		}
	}
}
