package dashboard_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/dashboard"
	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/manage"
)

func TestPortalLinkIsSingleUse(t *testing.T) {
	t.Parallel()
	f, link := setupLink(t)

	v := f.visitor(t)
	p := v.get(t, link)
	p.wantRedirect(t, "/dashboard/webhooks")
	cookie := p.Header.Get("Set-Cookie")
	for _, attr := range []string{"trk_session=trkds_", "Path=/dashboard/", "Max-Age=43200", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("session cookie %q lacks %s", cookie, attr)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Errorf("session cookie %q is Secure over plain HTTP without framing", cookie)
	}
	list := v.getOK(t, "/dashboard/webhooks")
	list.wantText(t, "Acme", "Workspaces", "Webhooks", "Create Webhook")

	// The same link again, from anyone, is refused.
	again := f.visitor(t).get(t, link)
	again.wantStatus(t, http.StatusNotFound)
	again.wantText(t, "This sign-in link has expired or was already used.")
	var links int
	if err := f.db.Get(&links, `SELECT count(*) FROM dashboard_links`); err != nil || links != 0 {
		t.Errorf("links left after use = %d, %v; want 0", links, err)
	}
}

func TestPortalLinkRaceOpensOneSession(t *testing.T) {
	t.Parallel()
	f, link := setupLink(t)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := f.visitor(t).get(t, link)
			mu.Lock()
			statuses[p.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if diff := cmp.Diff(map[int]int{http.StatusSeeOther: 1, http.StatusNotFound: 7}, statuses); diff != "" {
		t.Errorf("answers to 8 openings of one link (-want +got):\n%s", diff)
	}
}

func TestPortalLinkExpires(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *dashboard.Config) { c.LinkTTL = 5 * time.Minute })
	ws, _ := f.mustWorkspace(t, "Acme")
	fresh, stale := f.mustLink(t, ws), f.mustLink(t, ws)
	f.clock.Advance(5*time.Minute - time.Second)
	f.visitor(t).get(t, fresh).wantRedirect(t, "/dashboard/webhooks")
	f.clock.Advance(time.Second)
	f.visitor(t).get(t, stale).wantStatus(t, http.StatusNotFound)
}

func TestPortalLinkRefusesWhatIsNotALink(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws, key := f.mustWorkspace(t, "Acme")
	for _, token := range []string{"nope", "trkpl_", "trkpl_" + strings.Repeat("A", 43), key} {
		f.visitor(t).get(t, "/dashboard/session/"+token).wantStatus(t, http.StatusNotFound)
	}
	f.signedIn(t, ws) // a real link still works
	var sessions int
	if err := f.db.Get(&sessions, `SELECT count(*) FROM dashboard_sessions`); err != nil || sessions != 1 {
		t.Errorf("sessions = %d, %v; want only the real link's", sessions, err)
	}
}

func TestNewLinkURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, publicURL, target, wantPrefix string
	}{
		{"from a loopback request", "", "http://127.0.0.1:8080/v1/portal-sessions", "http://127.0.0.1:8080/dashboard/session/trkpl_"},
		{"from localhost", "", "http://localhost:8080/v1/portal-sessions", "http://localhost:8080/dashboard/session/trkpl_"},
		{"from PUBLIC_URL", "https://webhooks.trackelio.com/", "http://api.internal:8080/v1/portal-sessions", "https://webhooks.trackelio.com/dashboard/session/trkpl_"},
		{"never from another Host", "", "http://evil.example/v1/portal-sessions", ""},
		{"nor a private address", "", "http://10.1.2.3:8080/v1/portal-sessions", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, func(c *dashboard.Config) { c.PublicURL = tt.publicURL })
			ws, _ := f.mustWorkspace(t, "Acme")
			now := f.clock.Now()
			link, expires, err := f.dash.NewLink(context.Background(), httptest.NewRequest("POST", tt.target, nil), ws)
			if tt.wantPrefix == "" {
				var refusal *manage.Refusal
				if !errors.As(err, &refusal) || refusal.Code != "public_url_not_set" || link != "" {
					t.Errorf("NewLink = %q, %v; want a public_url_not_set refusal", link, err)
				}
				if n := dbtest.RowCounts(t, f.db, "dashboard_links")["dashboard_links"]; n != 0 {
					t.Errorf("a refused link stored %d links", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(link, tt.wantPrefix) || len(link) != len(tt.wantPrefix)+43 {
				t.Errorf("link = %q, want %s and 43 characters", link, tt.wantPrefix)
			}
			if d := expires.Sub(now); d < 5*time.Minute-time.Millisecond || d > 5*time.Minute {
				t.Errorf("expires %v after now, want the default 5m", d)
			}
		})
	}
}

// Link previewers send HEAD: it must not use up a single-use link.
func TestPortalLinkHeadDoesNotUseIt(t *testing.T) {
	t.Parallel()
	f, link := setupLink(t)
	v := f.visitor(t)
	for range 3 {
		req, _ := http.NewRequest("HEAD", f.srv.URL+link, nil)
		v.do(t, req).wantStatus(t, http.StatusOK)
	}
	v.get(t, link).wantRedirect(t, "/dashboard/webhooks")
}

// A link of another workspace, opened while signed in, asks before it
// switches; the link still works once confirmed, and only then is used.
func TestPortalLinkOfAnotherWorkspaceAsks(t *testing.T) {
	t.Parallel()
	f := setup(t)
	acme, _ := f.mustWorkspace(t, "Acme")
	globex, _ := f.mustWorkspace(t, "Globex")
	v := f.signedIn(t, acme)

	// A link of the same workspace just renews the session.
	v.get(t, f.mustLink(t, acme)).wantRedirect(t, "/dashboard/webhooks")

	link := f.mustLink(t, globex)
	ask := v.getOK(t, link)
	ask.wantText(t, "Switch to Globex?", "You are signed in to Acme.")
	ask.wantHTML(t, `<form method="post" action="`+link+`"`)
	v.get(t, "/dashboard/webhooks").wantText(t, "Acme")
	if n := dbtest.RowCounts(t, f.db, "dashboard_links")["dashboard_links"]; n != 1 {
		t.Fatalf("asking used the link: %d links left", n)
	}
	// Without the session's CSRF token the switch is refused.
	v.post(t, link, nil).wantStatus(t, http.StatusForbidden)
	v.post(t, link, v.form(t)).wantRedirect(t, "/dashboard/webhooks")
	v.get(t, "/dashboard/webhooks").wantText(t, "Globex")
	v.get(t, link).wantStatus(t, http.StatusNotFound)
}

func TestFramingAllowed(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *dashboard.Config) {
		c.FrameAncestors = []string{"https://app.trackelio.com", "https://*.trackelio.com"}
	})
	ws, _ := f.mustWorkspace(t, "Acme")
	p := f.visitor(t).get(t, f.mustLink(t, ws))
	p.wantRedirect(t, "/dashboard/webhooks")
	// In another site's frame only SameSite=None cookies are sent, which
	// must be Secure; Partitioned keeps them to the embedding site.
	cookie := p.Header.Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "Secure", "SameSite=None", "Partitioned"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("session cookie %q lacks %s", cookie, attr)
		}
	}
	if csp := p.Header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, "frame-ancestors https://app.trackelio.com https://*.trackelio.com") {
		t.Errorf("CSP = %q, want the allowed origins as frame-ancestors", csp)
	}
	if xfo := p.Header.Get("X-Frame-Options"); xfo != "" {
		t.Errorf("X-Frame-Options = %q with framing allowed, want none", xfo)
	}
}
