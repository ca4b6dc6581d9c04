package dashboard_test

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/trackelio/webhooks/internal/dashboard"
	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/internal/queuetest"
	"github.com/trackelio/webhooks/internal/testclock"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/repo"
)

// fixture is the dashboard served over real HTTP on a fresh database.
type fixture struct {
	dash  *dashboard.Dashboard
	srv   *httptest.Server
	store *repo.Store
	db    *sqlx.DB // for assertions on raw rows
	enq   *queuetest.Recorder
	clock *testclock.Clock
}

// setup builds the dashboard; options adjust its config before it is built.
func setup(tb testing.TB, opts ...func(*dashboard.Config)) *fixture {
	tb.Helper()
	store, db := dbtest.NewStoreAndDB(tb)
	return setupOn(tb, store, db, opts...)
}

// setupSignedIn is a fixture with a workspace, Acme, and a visitor signed
// in to it; options adjust the config as for setup.
func setupSignedIn(tb testing.TB, opts ...func(*dashboard.Config)) (*fixture, string, *visitor) {
	tb.Helper()
	f := setup(tb, opts...)
	ws, _ := f.mustWorkspace(tb, "Acme")
	return f, ws, f.signedIn(tb, ws)
}

// setupWebhook is a fixture with a workspace, Acme, and an active webhook
// of it at url subscribed to events; it returns the workspace's id too.
func setupWebhook(tb testing.TB, url string, events ...string) (*fixture, string, repo.Webhook) {
	tb.Helper()
	f := setup(tb)
	ws, _ := f.mustWorkspace(tb, "Acme")
	return f, ws, f.mustWebhook(tb, ws, url, events...)
}

// setupLink is a fixture with a workspace, Acme, and the path of a portal
// link of it nobody has opened yet.
func setupLink(tb testing.TB) (*fixture, string) {
	tb.Helper()
	f := setup(tb)
	ws, _ := f.mustWorkspace(tb, "Acme")
	return f, f.mustLink(tb, ws)
}

// setupOn builds the dashboard on the given store, db being a direct pool
// on its database.
func setupOn(tb testing.TB, store *repo.Store, db *sqlx.DB, opts ...func(*dashboard.Config)) *fixture {
	tb.Helper()
	f := &fixture{store: store, db: db, enq: &queuetest.Recorder{}, clock: testclock.New(time.Now())}
	cfg := dashboard.Config{
		Store: store,
		// The clock moves sessions and links; deliveries keep real times.
		Manage: manage.New(manage.Config{Store: store, Enqueuer: f.enq, TestWait: 2 * time.Second}),
		Now:    f.clock.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	f.dash = dashboard.New(cfg)
	f.srv = httptest.NewServer(f.dash)
	tb.Cleanup(f.srv.Close)
	return f
}

// mustWorkspace creates a workspace and returns its id and API key.
func (f *fixture) mustWorkspace(tb testing.TB, name string) (string, string) {
	tb.Helper()
	ws, key := testfactory.WorkspaceWithKey(tb, f.store, name)
	return ws.ID, key
}

// mustWebhook creates an active webhook subscribed to the given events.
func (f *fixture) mustWebhook(tb testing.TB, workspaceID, url string, events ...string) repo.Webhook {
	tb.Helper()
	return testfactory.Webhook(tb, f.store, workspaceID, repo.NewWebhook{
		URL: url, Events: events, Active: true, Secret: "whsec_dGVzdCBzZWNyZXQgb2YgdGhpcyB3ZWJob29rIQ==",
	})
}

// mustGetWebhook reads the webhook as stored now.
func (f *fixture) mustGetWebhook(tb testing.TB, hook repo.Webhook) repo.Webhook {
	tb.Helper()
	got, err := f.store.Webhook(context.Background(), hook.WorkspaceID, hook.ID)
	if err != nil {
		tb.Fatalf("webhook %s: %v", hook.ID, err)
	}
	return got
}

// mustDisable disables the webhook for reason ("failing", "gone"), as the
// worker does at the end of a failing streak or on a 410.
func (f *fixture) mustDisable(tb testing.TB, hookID, reason string) {
	tb.Helper()
	if _, err := f.db.Exec(`UPDATE webhooks SET active = false, disabled_reason = $2, disabled_at = now() WHERE id = $1`, hookID, reason); err != nil {
		tb.Fatalf("disable webhook %s: %v", hookID, err)
	}
}

// mustTurnOff makes the webhook inactive, as its owner does.
func (f *fixture) mustTurnOff(tb testing.TB, hook repo.Webhook) {
	tb.Helper()
	off := false
	if _, err := f.store.UpdateWebhook(context.Background(), hook.WorkspaceID, hook.ID, repo.WebhookPatch{Active: &off}); err != nil {
		tb.Fatalf("turn webhook %s off: %v", hook.ID, err)
	}
}

// mustDeliver stores an event of the given type, its example data with
// extra's keys added, with its deliveries, and records one attempt per
// result for the webhook's delivery; it returns that delivery's id.
func (f *fixture) mustDeliver(tb testing.TB, hook repo.Webhook, typ string, extra map[string]any, results ...repo.AttemptResult) string {
	tb.Helper()
	svc := manage.New(manage.Config{Store: f.store, Enqueuer: f.enq})
	ev, err := svc.NewEvent(hook.WorkspaceID, typ, json.RawMessage(testfactory.EventData(tb, typ, extra)), "")
	if err != nil {
		tb.Fatal(err)
	}
	acc := testfactory.Event(tb, f.store, ev, "")
	var id string
	if err := f.db.Get(&id, `SELECT id FROM deliveries WHERE event_id = $1 AND webhook_id = $2`, acc.EventID, hook.ID); err != nil {
		tb.Fatalf("delivery of event %s: %v", acc.EventID, err)
	}
	for i, r := range results {
		r.DeliveryID, r.Attempt = id, i+1
		if r.At.IsZero() {
			r.At = time.Now()
		}
		testfactory.Record(tb, f.store, r)
	}
	return id
}

// Attempt results tests record.
var (
	answered200 = repo.AttemptResult{StatusCode: 200, ResponseBody: []byte(`{"ok":true}`), Duration: 12 * time.Millisecond,
		Succeeded: true, NewStatus: delivery.StatusSucceeded,
		RequestHeaders: map[string]string{"X-Trackelio-Signature": "5f0c", "webhook-timestamp": "1796154985"}}
	answered500 = repo.AttemptResult{StatusCode: 500, ResponseBody: []byte("boom"), Error: "receiver answered 500 Internal Server Error",
		Duration: 30 * time.Millisecond, NewStatus: delivery.StatusFailed}
	// answered500Retrying is a failure with a retry due in an hour.
	answered500Retrying = repo.AttemptResult{StatusCode: 500, ResponseBody: []byte("boom"), Error: "receiver answered 500 Internal Server Error",
		Duration: 30 * time.Millisecond, NewStatus: delivery.StatusPending, NextAttemptAt: time.Now().Add(time.Hour)}
)

// answered410 is an endpoint that is gone: the webhook is disabled at once.
var answered410 = repo.AttemptResult{StatusCode: 410, ResponseBody: []byte("gone"), Error: "receiver answered 410 Gone",
	Duration: 8 * time.Millisecond, NewStatus: delivery.StatusFailed, DisableReason: delivery.DisabledGone}

// told is r recorded under a notice policy that tells its owners on the
// first failure (the workers' waits for a longer streak).
func told(r repo.AttemptResult) repo.AttemptResult {
	r.Notices = delivery.NoticePolicy{FailingAfter: 1}
	return r
}

// ago is r made the given time ago.
func ago(r repo.AttemptResult, d time.Duration) repo.AttemptResult {
	r.At = time.Now().Add(-d)
	return r
}

// catchUp moves the dashboard's clock to now: pages that weigh the times
// of deliveries, which keep real times, read the clock after them.
func (f *fixture) catchUp() {
	f.clock.Advance(time.Since(f.clock.Now()))
}

// mustNotifyingWebhook creates an active webhook subscribed to
// post.created whose notices are mailed to the addresses, and returns it
// as stored.
func (f *fixture) mustNotifyingWebhook(tb testing.TB, workspaceID, url string, emails ...string) repo.Webhook {
	tb.Helper()
	return testfactory.Webhook(tb, f.store, workspaceID, repo.NewWebhook{
		URL: url, Events: []string{"post.created"}, Active: true, NotifyEmails: emails,
	})
}

// visitor is a browser: it keeps cookies and does not follow redirects, so
// tests see each answer.
type visitor struct {
	f *fixture
	c *http.Client
}

// visitor is a new visitor with no cookies.
func (f *fixture) visitor(tb testing.TB) *visitor {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &visitor{f: f, c: &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// signedInTo is a visitor signed in to the webhook's workspace, and the
// path of the webhook's page.
func (f *fixture) signedInTo(tb testing.TB, hook repo.Webhook) (*visitor, string) {
	tb.Helper()
	return f.signedIn(tb, hook.WorkspaceID), "/dashboard/webhooks/" + hook.ID
}

// signedIn is a visitor who opened a portal link of the workspace.
func (f *fixture) signedIn(tb testing.TB, workspaceID string) *visitor {
	tb.Helper()
	v := f.visitor(tb)
	p := v.get(tb, f.mustLink(tb, workspaceID))
	p.wantRedirect(tb, "/dashboard/webhooks")
	return v
}

// mustLink issues a portal link as POST /v1/portal-sessions does and
// returns its path.
func (f *fixture) mustLink(tb testing.TB, workspaceID string) string {
	tb.Helper()
	link, _, err := f.dash.NewLink(context.Background(), httptest.NewRequest("POST", f.srv.URL+"/v1/portal-sessions", nil), workspaceID)
	if err != nil {
		tb.Fatalf("NewLink: %v", err)
	}
	u, err := url.Parse(link)
	if err != nil {
		tb.Fatal(err)
	}
	return u.Path
}

// page is one answer of the dashboard.
type page struct {
	Status int
	Header http.Header
	Body   string
}

// do sends the request with the visitor's cookies and reads the answer.
func (v *visitor) do(tb testing.TB, req *http.Request) page {
	tb.Helper()
	res, err := v.c.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return page{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

// get is the answer to GET path.
func (v *visitor) get(tb testing.TB, path string) page {
	tb.Helper()
	req, err := http.NewRequest("GET", v.f.srv.URL+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return v.do(tb, req)
}

// getOK is the page at path, which must be served with 200 OK.
func (v *visitor) getOK(tb testing.TB, path string) page {
	tb.Helper()
	p := v.get(tb, path)
	p.wantStatus(tb, http.StatusOK)
	return p
}

// post submits a form as a browser does.
func (v *visitor) post(tb testing.TB, path string, form url.Values) page {
	tb.Helper()
	req, err := http.NewRequest("POST", v.f.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return v.do(tb, req)
}

// csrf is the visitor's CSRF token, read from a page as a form carries it.
func (v *visitor) csrf(tb testing.TB) string {
	tb.Helper()
	return v.get(tb, "/dashboard/webhooks").csrf(tb)
}

// form is a form with the visitor's CSRF token and the given fields, given
// as name, value pairs.
func (v *visitor) form(tb testing.TB, pairs ...string) url.Values {
	tb.Helper()
	f := url.Values{"csrf": {v.csrf(tb)}}
	for i := 0; i+1 < len(pairs); i += 2 {
		f.Add(pairs[i], pairs[i+1])
	}
	return f
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of the page's form.
func (p page) csrf(tb testing.TB) string {
	tb.Helper()
	m := csrfField.FindStringSubmatch(p.Body)
	if m == nil {
		tb.Fatalf("no CSRF field on the page (status %d)", p.Status)
	}
	return m[1]
}

// wantStatus stops the test unless the page was answered with want.
func (p page) wantStatus(tb testing.TB, want int) {
	tb.Helper()
	if p.Status != want {
		tb.Fatalf("status = %d, want %d; body:\n%s", p.Status, want, excerptOf(p.Body))
	}
}

// wantRedirect checks a 303 to the given location.
func (p page) wantRedirect(tb testing.TB, location string) {
	tb.Helper()
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != location {
		tb.Fatalf("answer = %d to %q, want 303 to %q; body:\n%s", p.Status, p.Header.Get("Location"), location, excerptOf(p.Body))
	}
}

// wantRedirectTo checks a 303 to a location that starts with prefix and
// returns the location.
func (p page) wantRedirectTo(tb testing.TB, prefix string) string {
	tb.Helper()
	if loc := p.Header.Get("Location"); p.Status != http.StatusSeeOther || !strings.HasPrefix(loc, prefix) {
		tb.Fatalf("answer = %d to %q, want 303 to %s…; body:\n%s", p.Status, loc, prefix, excerptOf(p.Body))
	}
	return p.Header.Get("Location")
}

// wantText checks that the page shows each text (HTML-escaped as the
// template writes it).
func (p page) wantText(tb testing.TB, texts ...string) {
	tb.Helper()
	for _, s := range texts {
		if !strings.Contains(p.Body, html.EscapeString(s)) {
			tb.Errorf("page does not show %q", s)
		}
	}
}

// wantHTML checks that the page holds each fragment of markup as is.
func (p page) wantHTML(tb testing.TB, fragments ...string) {
	tb.Helper()
	for _, s := range fragments {
		if !strings.Contains(p.Body, s) {
			tb.Errorf("page lacks the markup %s", s)
		}
	}
}

// inputValue is the value of the input with the given id, unescaped.
func (p page) inputValue(tb testing.TB, id string) string {
	tb.Helper()
	m := regexp.MustCompile(`<input id="` + regexp.QuoteMeta(id) + `"[^>]* value="([^"]*)"`).FindStringSubmatch(p.Body)
	if m == nil {
		tb.Fatalf("no input %q on the page", id)
	}
	return html.UnescapeString(m[1])
}

// excerptOf is s cut to 2,000 bytes, for failure messages.
func excerptOf(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}

// tables are the tables whose rows a refused form must not change.
var tables = []string{"webhooks", "events", "deliveries", "delivery_attempts", "dashboard_sessions", "dashboard_links",
	"notify_addresses", "webhook_notices", "notice_mails"}

// rowCounts counts the rows of the tables above.
func (f *fixture) rowCounts(tb testing.TB) map[string]int {
	tb.Helper()
	return dbtest.RowCounts(tb, f.db, tables...)
}

// webhookSnapshot is a webhook row as text, to show it did not change.
func (f *fixture) webhookSnapshot(tb testing.TB, id string) string {
	tb.Helper()
	var row string
	if err := f.db.Get(&row, `SELECT row_to_json(w)::text FROM webhooks w WHERE id = $1`, id); err != nil {
		tb.Fatalf("webhook %s: %v", id, err)
	}
	return row
}

// wantUntouched checks that what ran since the rows were counted and the
// webhook's snapshot was taken changed neither, and that nothing was ever
// enqueued; what names it in the failure messages.
func (f *fixture) wantUntouched(tb testing.TB, rows map[string]int, hookID, snapshot, what string) {
	tb.Helper()
	dbtest.WantRowCounts(tb, f.db, rows, what)
	if got := f.webhookSnapshot(tb, hookID); got != snapshot {
		tb.Errorf("%s changed the webhook:\nbefore %s\nafter  %s", what, snapshot, got)
	}
	if got := f.enq.Enqueued(); len(got) != 0 {
		tb.Errorf("%s enqueued %v", what, got)
	}
}
