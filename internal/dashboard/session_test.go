package dashboard_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/trackelio/webhooks/internal/dashboard"
	"github.com/trackelio/webhooks/internal/dbtest"
)

// signedRoutes are every page and form behind a session, with ids of a
// real webhook and delivery filled in.
func signedRoutes(hook, delivery string) []struct{ method, path string } {
	return []struct{ method, path string }{
		{"GET", "/dashboard/"},
		{"GET", "/dashboard/webhooks"},
		{"GET", "/dashboard/webhooks/new"},
		{"POST", "/dashboard/webhooks"},
		{"GET", "/dashboard/webhooks/" + hook},
		{"POST", "/dashboard/webhooks/" + hook},
		{"GET", "/dashboard/webhooks/" + hook + "/delete"},
		{"POST", "/dashboard/webhooks/" + hook + "/delete"},
		{"POST", "/dashboard/webhooks/" + hook + "/secret"},
		{"POST", "/dashboard/webhooks/" + hook + "/rotate-secret"},
		{"POST", "/dashboard/webhooks/" + hook + "/test"},
		{"POST", "/dashboard/webhooks/" + hook + "/recover"},
		{"GET", "/dashboard/deliveries/" + delivery},
		{"POST", "/dashboard/deliveries/" + delivery + "/redeliver"},
		{"POST", "/dashboard/logout"},
	}
}

func TestPagesNeedASession(t *testing.T) {
	t.Parallel()
	f, _, hook := setupWebhook(t, "https://receiver.example/hook", "post.created")
	del := f.mustDeliver(t, hook, "post.created", nil)
	before := f.rowCounts(t)
	strangers := map[string]*visitor{"no cookie": f.visitor(t), "a made-up cookie": f.visitor(t)}
	u, _ := url.Parse(f.srv.URL + "/dashboard/")
	strangers["a made-up cookie"].c.Jar.SetCookies(u, []*http.Cookie{{Name: "trk_session", Value: "trkds_forged"}})
	for name, v := range strangers {
		for _, rt := range signedRoutes(hook.ID, del) {
			t.Run(name+" "+rt.method+" "+rt.path, func(t *testing.T) {
				var p page
				if rt.method == "GET" {
					p = v.get(t, rt.path)
					p.wantRedirect(t, "/dashboard/login?next="+url.QueryEscape(rt.path))
				} else {
					p = v.post(t, rt.path, url.Values{"url": {"https://attacker.example"}})
					p.wantRedirect(t, "/dashboard/login")
				}
			})
		}
	}
	dbtest.WantRowCounts(t, f.db, before, "requests without a session")
}

func TestFormsNeedTheCSRFToken(t *testing.T) {
	t.Parallel()
	f, ws, hook := setupWebhook(t, "https://receiver.example/hook", "post.created")
	del := f.mustDeliver(t, hook, "post.created", nil, answered500)
	v := f.signedIn(t, ws)
	// Another session's token is as wrong as none.
	other := f.signedIn(t, ws).csrf(t)
	before, snapshot := f.rowCounts(t), f.webhookSnapshot(t, hook.ID)
	for _, rt := range signedRoutes(hook.ID, del) {
		if rt.method != "POST" {
			continue
		}
		for name, token := range map[string][]string{"none": nil, "empty": {""}, "another session's": {other}} {
			t.Run(rt.path+" with "+name, func(t *testing.T) {
				form := url.Values{"url": {"https://attacker.example"}, "events": {"post.created"}, "active": {"on"},
					"grace_period": {"0s"}, "since": {time.Now().Add(-time.Hour).Format(time.RFC3339)}}
				if token != nil {
					form["csrf"] = token
				}
				p := v.post(t, rt.path, form)
				p.wantStatus(t, http.StatusForbidden)
				p.wantText(t, "Form expired")
			})
		}
	}
	f.wantUntouched(t, before, hook.ID, snapshot, "refused forms")
	// The session still works: the refusals were not sign-outs.
	v.getOK(t, "/dashboard/webhooks")
}

func TestSessionExpires(t *testing.T) {
	t.Parallel()
	f, _, v := setupSignedIn(t, func(c *dashboard.Config) { c.SessionTTL = time.Hour })
	f.clock.Advance(59 * time.Minute)
	v.getOK(t, "/dashboard/webhooks")
	f.clock.Advance(time.Minute)
	v.get(t, "/dashboard/webhooks").wantRedirect(t, "/dashboard/login?next=%2Fdashboard%2Fwebhooks")
}

// TestDatabaseOutageIsA503Page: while PostgreSQL cannot be reached a
// signed-in visitor gets a 503 page with Retry-After (not a sign-in
// redirect, not a 500), and the same session works once it is back.
func TestDatabaseOutageIsA503Page(t *testing.T) {
	t.Parallel()
	store, db, pg := dbtest.NewStoreBehindProxy(t)
	f := setupOn(t, store, db)
	ws, _ := f.mustWorkspace(t, "Acme")
	v := f.signedIn(t, ws)
	v.getOK(t, "/dashboard/webhooks")

	pg.Cut()
	p := v.get(t, "/dashboard/webhooks")
	p.wantStatus(t, http.StatusServiceUnavailable)
	p.wantText(t, "Temporarily unavailable", "try again in a few seconds")
	if got := p.Header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q, want 2", got)
	}

	pg.Restore(t)
	deadline := time.Now().Add(10 * time.Second)
	for p = v.get(t, "/dashboard/webhooks"); p.Status == http.StatusServiceUnavailable && time.Now().Before(deadline); p = v.get(t, "/dashboard/webhooks") {
		time.Sleep(50 * time.Millisecond)
	}
	p.wantStatus(t, http.StatusOK)
}
