package dashboard

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// contentSecurityPolicy allows the page's own script, styles and requests
// only, no inline script, and framing by the given origins alone.
func contentSecurityPolicy(frameAncestors []string) string {
	ancestors := "'none'"
	if len(frameAncestors) > 0 {
		ancestors = strings.Join(frameAncestors, " ")
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
		"form-action 'self'; base-uri 'none'; frame-ancestors " + ancestors
}

// ParseFrameAncestors reads DASHBOARD_FRAME_ANCESTORS: origins separated by
// commas or spaces, each scheme://host[:port] with http or https, where the
// host may start with "*." for any subdomain. Paths, queries and bare
// wildcards are refused: they would widen who may frame the pages.
func ParseFrameAncestors(list string) ([]string, error) {
	var out []string
	for _, o := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
			u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" ||
			strings.Contains(strings.TrimPrefix(u.Hostname(), "*."), "*") {
			return nil, fmt.Errorf("%q is not an origin like https://app.trackelio.com", o)
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	return out, nil
}

// secureHeaders go on every dashboard answer, redirects included.
func (d *Dashboard) secureHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", d.csp)
	if !d.framed {
		h.Set("X-Frame-Options", "DENY")
	}
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	// Pages hold secrets and per-session tokens: never store them.
	h.Set("Cache-Control", "no-store")
}

// Cookie names.
const (
	sessionCookie = "trk_session"
	// loginCookie carries the sign-in form's CSRF token (double submit),
	// since no session exists yet.
	loginCookie = "trk_login"
)

// cookie builds a dashboard cookie. When framing is allowed the pages run
// in another site's frame, where only SameSite=None cookies are sent; those
// must be Secure, and Partitioned keeps them to that embedding site.
func (d *Dashboard) cookie(r *http.Request, name, value string, ttl time.Duration) *http.Cookie {
	c := &http.Cookie{
		Name: name, Value: value, Path: "/dashboard/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil || strings.HasPrefix(d.publicURL, "https://"),
	}
	switch {
	case ttl < 0:
		c.MaxAge = -1
	default:
		c.MaxAge = int(ttl.Seconds())
	}
	if d.framed {
		c.SameSite, c.Secure, c.Partitioned = http.SameSiteNoneMode, true, true
	}
	return c
}

// csrfToken is the CSRF token of a session: derived from the session token
// that only the visitor's cookie holds, so it needs no storage and a page
// from one session is refused in another.
func csrfToken(sessionToken string) string {
	m := hmac.New(sha256.New, []byte(sessionToken))
	m.Write([]byte("trackelio dashboard csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sameToken compares tokens in constant time; an empty one never matches.
func sameToken(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
