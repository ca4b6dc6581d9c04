package dashboard_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trackelio/webhooks/internal/dashboard"
	"github.com/trackelio/webhooks/internal/dbtest"
)

func TestLoginWithAPIKey(t *testing.T) {
	t.Parallel()
	f := setup(t)
	_, key := f.mustWorkspace(t, "Acme")
	_, otherKey := f.mustWorkspace(t, "Globex")

	v := f.visitor(t)
	form := v.getOK(t, "/dashboard/login?next=%2Fdashboard%2Fwebhooks%2Fnew")
	form.wantText(t, "Workspace API key", "Sign in")
	csrf := form.csrf(t)
	before := f.rowCounts(t)

	tests := []struct {
		name   string
		fields url.Values
		status int
		text   string
	}{
		{"no token", url.Values{"api_key": {key}}, http.StatusForbidden, "Form expired"},
		{"wrong token", url.Values{"api_key": {key}, "csrf": {csrf + "x"}}, http.StatusForbidden, "Form expired"},
		{"no key", url.Values{"csrf": {csrf}}, http.StatusUnprocessableEntity, "Enter your workspace API key."},
		{"unknown key", url.Values{"api_key": {"trk_unknown"}, "csrf": {csrf}}, http.StatusUnauthorized, "That API key does not belong to any workspace."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := v.post(t, "/dashboard/login", tt.fields)
			p.wantStatus(t, tt.status)
			p.wantText(t, tt.text)
		})
	}
	dbtest.WantRowCounts(t, f.db, before, "refused sign-ins")

	// A key pasted with spaces signs in and goes where the visitor was going.
	p := v.post(t, "/dashboard/login", url.Values{"api_key": {" " + key + "\n"}, "csrf": {csrf}, "next": {"/dashboard/webhooks/new"}})
	p.wantRedirect(t, "/dashboard/webhooks/new")
	v.get(t, "/dashboard/webhooks").wantText(t, "Acme")

	// Signing in again with another workspace's key ends the first session.
	again := v.get(t, "/dashboard/login")
	v.post(t, "/dashboard/login", url.Values{"api_key": {otherKey}, "csrf": {again.csrf(t)}}).wantRedirect(t, "/dashboard/webhooks")
	v.get(t, "/dashboard/webhooks").wantText(t, "Globex")
	var sessions int
	if err := f.db.Get(&sessions, `SELECT count(*) FROM dashboard_sessions`); err != nil || sessions != 1 {
		t.Errorf("sessions = %d, %v; want 1", sessions, err)
	}
}

// Failed sign-ins are limited per client: a key-guessing script is held,
// while a person who mistyped is not, and other clients are not at all.
func TestLoginFailuresAreLimited(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *dashboard.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	_, key := f.mustWorkspace(t, "Acme")
	signIn := func(v *visitor, apiKey, client string) page {
		form := v.get(t, "/dashboard/login")
		req, _ := http.NewRequest("POST", f.srv.URL+"/dashboard/login", strings.NewReader(url.Values{"api_key": {apiKey}, "csrf": {form.csrf(t)}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		// The test server is behind a trusted proxy: loopback.
		req.Header.Set("X-Forwarded-For", "203.0.113.9, "+client)
		return v.do(t, req)
	}
	guesser := f.visitor(t)
	for i := range 10 {
		signIn(guesser, fmt.Sprintf("trk_guess%d", i), "198.51.100.7").wantStatus(t, http.StatusUnauthorized)
	}
	held := signIn(guesser, key, "198.51.100.7") // even the right key
	held.wantStatus(t, http.StatusTooManyRequests)
	held.wantText(t, "Too many sign-ins failed from your address. Try again in a minute.")
	if held.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	// Another client, and the same one a minute later, sign in.
	signIn(f.visitor(t), key, "198.51.100.8").wantRedirect(t, "/dashboard/webhooks")
	f.clock.Advance(time.Minute)
	signIn(guesser, key, "198.51.100.7").wantRedirect(t, "/dashboard/webhooks")
}

func TestClientAddr(t *testing.T) {
	t.Parallel()
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		remote, forwarded, want string
	}{
		{"198.51.100.7:5000", "", "198.51.100.7"},
		{"198.51.100.7:5000", "1.2.3.4", "198.51.100.7"}, // not from a proxy: the header is the client's own
		{"10.0.0.2:5000", "1.2.3.4, 198.51.100.7", "198.51.100.7"},
		{"10.0.0.2:5000", "198.51.100.7, 10.0.0.9", "198.51.100.7"},
		{"10.0.0.2:5000", "", "10.0.0.2"},
		{"[2001:db8::1]:5000", "", "2001:db8::1"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/dashboard/login", nil)
		r.RemoteAddr = tt.remote
		if tt.forwarded != "" {
			r.Header.Set("X-Forwarded-For", tt.forwarded)
		}
		if got := dashboard.ClientAddr(r, proxies); got != tt.want {
			t.Errorf("clientAddr(%s, %q) = %s, want %s", tt.remote, tt.forwarded, got, tt.want)
		}
	}
}

func TestLoginNeverRedirectsAway(t *testing.T) {
	t.Parallel()
	f := setup(t)
	_, key := f.mustWorkspace(t, "Acme")
	for _, next := range []string{"https://evil.example/", "//evil.example/dashboard/", "/dashboard/\\evil", "/v1/webhooks", "/dashboard/login", ""} {
		t.Run(next, func(t *testing.T) {
			v := f.visitor(t)
			csrf := v.get(t, "/dashboard/login").csrf(t)
			v.post(t, "/dashboard/login", url.Values{"api_key": {key}, "csrf": {csrf}, "next": {next}}).wantRedirect(t, "/dashboard/webhooks")
		})
	}
}

func TestSignOutRevokesTheSession(t *testing.T) {
	t.Parallel()
	f, _, v := setupSignedIn(t)
	// A copy of the cookie, as a second replica or a stolen cookie would hold.
	u, _ := url.Parse(f.srv.URL + "/dashboard/")
	copyOf := f.visitor(t)
	copyOf.c.Jar.SetCookies(u, v.c.Jar.Cookies(u))
	copyOf.getOK(t, "/dashboard/webhooks")

	p := v.post(t, "/dashboard/logout", v.form(t))
	p.wantRedirect(t, "/dashboard/login?signed_out=1")
	v.get(t, "/dashboard/login?signed_out=1").wantText(t, "You are signed out.")
	v.get(t, "/dashboard/webhooks").wantRedirect(t, "/dashboard/login?next=%2Fdashboard%2Fwebhooks")
	copyOf.get(t, "/dashboard/webhooks").wantRedirect(t, "/dashboard/login?next=%2Fdashboard%2Fwebhooks")
}
