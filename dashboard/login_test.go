package dashboard_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoginWithAPIKey(t *testing.T) {
	t.Parallel()
	f := setup(t)
	_, key := f.mustWorkspace(t, "Acme")
	_, otherKey := f.mustWorkspace(t, "Globex")

	v := f.visitor(t)
	form := v.get(t, "/dashboard/login?next=%2Fdashboard%2Fwebhooks%2Fnew")
	form.wantStatus(t, http.StatusOK)
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
	if diff := cmp.Diff(before, f.rowCounts(t)); diff != "" {
		t.Errorf("refused sign-ins changed rows (-before +after):\n%s", diff)
	}

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
	f := setup(t)
	ws, _ := f.mustWorkspace(t, "Acme")
	v := f.signedIn(t, ws)
	// A copy of the cookie, as a second replica or a stolen cookie would hold.
	u, _ := url.Parse(f.srv.URL + "/dashboard/")
	copyOf := f.visitor(t)
	copyOf.c.Jar.SetCookies(u, v.c.Jar.Cookies(u))
	copyOf.get(t, "/dashboard/webhooks").wantStatus(t, http.StatusOK)

	p := v.post(t, "/dashboard/logout", v.form(t))
	p.wantRedirect(t, "/dashboard/login?signed_out=1")
	v.get(t, "/dashboard/login?signed_out=1").wantText(t, "You are signed out.")
	v.get(t, "/dashboard/webhooks").wantRedirect(t, "/dashboard/login?next=%2Fdashboard%2Fwebhooks")
	copyOf.get(t, "/dashboard/webhooks").wantRedirect(t, "/dashboard/login?next=%2Fdashboard%2Fwebhooks")
}
