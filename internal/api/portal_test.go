package api_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/api"
	"github.com/trackelio/webhooks/internal/dashboard"
	"github.com/trackelio/webhooks/internal/manage"
)

// withDashboard mounts the real dashboard and lets it issue portal links.
func withDashboard(c *api.Config, mc *manage.Config) { withDashboardAt("")(c, mc) }

// withDashboardAt is withDashboard with PUBLIC_URL set to publicURL.
func withDashboardAt(publicURL string) func(*api.Config, *manage.Config) {
	return func(c *api.Config, mc *manage.Config) {
		// The dashboard shares the api's Service, so it is built here from the
		// config as it stands; options that change it must come before this one.
		c.Manage = manage.New(*mc)
		d := dashboard.New(dashboard.Config{Store: c.Store.(dashboard.Store), Manage: c.Manage, PublicURL: publicURL})
		c.Dashboard, c.Portal = d, d
	}
}

func TestCreatePortalSession(t *testing.T) {
	t.Parallel()
	f := setup(t, withDashboardAt("https://webhooks.trackelio.example"))
	ws := f.mustCreateWorkspace(t, "Acme")

	// Whatever Host the request names, the link is built on PUBLIC_URL.
	res := f.do(t, request{Method: "POST", Path: "http://evil.example/v1/portal-sessions", Auth: bearer(ws.APIKey)})
	got := answerAs[client.PortalSession](t, res, http.StatusCreated)
	if !strings.HasPrefix(got.URL, "https://webhooks.trackelio.example/dashboard/session/trkpl_") {
		t.Errorf("url = %q, want a link on PUBLIC_URL", got.URL)
	}
	if d := time.Until(got.ExpiresAt); d < 4*time.Minute || d > 5*time.Minute {
		t.Errorf("expires_at is %v away, want 5 minutes", d)
	}

	// A link previewer's HEAD does not use the link up; the first GET
	// opens a dashboard session, once.
	u, _ := url.Parse(got.URL)
	open := func(method string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		f.handler.ServeHTTP(w, httptest.NewRequest(method, u.Path, nil))
		return w
	}
	for range 2 {
		if w := open("HEAD"); w.Code != http.StatusOK {
			t.Errorf("HEAD of the link answered %d, want 200", w.Code)
		}
	}
	if w := open("GET"); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/dashboard/webhooks" {
		t.Errorf("opening the link answered %d to %q", w.Code, w.Header().Get("Location"))
	}
	if w := open("GET"); w.Code != http.StatusNotFound {
		t.Errorf("opening it again answered %d, want 404", w.Code)
	}
}

// Without PUBLIC_URL a link is built on the request's host only when that
// is loopback (development); a Host header an attacker set is refused.
func TestCreatePortalSessionWithoutPublicURL(t *testing.T) {
	t.Parallel()
	f := setup(t, withDashboard)
	ws := f.mustCreateWorkspace(t, "Acme")
	for _, host := range []string{"127.0.0.1:8080", "localhost:8080", "[::1]:8080"} {
		res := f.do(t, request{Method: "POST", Path: "http://" + host + "/v1/portal-sessions", Auth: bearer(ws.APIKey)})
		if got := answerAs[client.PortalSession](t, res, http.StatusCreated); !strings.HasPrefix(got.URL, "http://"+host+"/dashboard/session/trkpl_") {
			t.Errorf("url = %q, want a link on %s", got.URL, host)
		}
	}
	before := f.footprint(t)
	for _, host := range []string{"evil.example", "webhooks.trackelio.com", "10.0.0.1:8080", "127.0.0.1.evil.example"} {
		f.do(t, request{Method: "POST", Path: "http://" + host + "/v1/portal-sessions", Auth: bearer(ws.APIKey)}).
			wantError(t, apiError{Status: http.StatusConflict, Code: "public_url_not_set"})
	}
	f.wantNoFootprint(t, before, "refused links")
}

func TestCreatePortalSessionRefusals(t *testing.T) {
	t.Parallel()
	f := setup(t, withDashboard)
	ws := f.mustCreateWorkspace(t, "Acme")
	before := f.footprint(t)
	tests := []struct {
		name, key, body string
		want            apiError
	}{
		{"no key", "", "", apiError{Status: 401, Code: "unauthorized"}},
		{"unknown key", "trk_nope", "", apiError{Status: 401, Code: "unauthorized"}},
		{"unknown field", ws.APIKey, `{"workspace_id":"someone else's"}`, apiError{Status: 422, Code: "validation_failed", Field: "workspace_id"}},
		{"not an object", ws.APIKey, `[]`, apiError{Status: 400, Code: "invalid_json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.call(t, "POST", "/v1/portal-sessions", tt.key, tt.body).wantError(t, tt.want)
		})
	}
	f.wantNoFootprint(t, before, "refused requests")
	var links int
	if err := f.db.Get(&links, `SELECT count(*) FROM dashboard_links`); err != nil || links != 0 {
		t.Errorf("links = %d, %v; want none", links, err)
	}
}

func TestDashboardIsMounted(t *testing.T) {
	t.Parallel()
	f := setup(t, withDashboard)
	if res := f.do(t, request{Method: "GET", Path: "/dashboard"}); res.Status != http.StatusMovedPermanently || res.Header.Get("Location") != "/dashboard/" {
		t.Errorf("GET /dashboard = %d to %q, want a redirect to /dashboard/", res.Status, res.Header.Get("Location"))
	}
	if res := f.do(t, request{Method: "GET", Path: "/dashboard/webhooks"}); res.Status != http.StatusSeeOther {
		t.Errorf("GET /dashboard/webhooks without a session = %d, want 303 to sign-in", res.Status)
	}
	// Without a dashboard there is no portal route.
	plain := setup(t)
	ws := plain.mustCreateWorkspace(t, "Acme")
	plain.call(t, "POST", "/v1/portal-sessions", ws.APIKey, "").wantError(t, apiError{Status: 404, Code: "not_found"})
}
