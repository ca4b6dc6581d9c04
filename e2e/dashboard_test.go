package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testreceiver"
	"github.com/trackelio/webhooks/repo"
	"github.com/trackelio/webhooks/signature"
)

// TestDashboardInABrowser follows the documentation's steps in a real
// headless Chromium against the real binaries: open the dashboard from a
// portal link, Workspaces > Webhooks, Create Webhook, fill URL, Events and
// Active, Save, store the secret; then watch deliveries, failures, a
// redelivery, a live test event and an inactive webhook in the pages. Every
// page passes axe-core and is photographed at desktop and phone widths.
func TestDashboardInABrowser(t *testing.T) {
	t.Parallel()
	var failing atomic.Bool
	rc := newReceiver(t, testreceiver.Switch(&failing,
		testreceiver.Always(http.StatusInternalServerError, `<script>document.title="pwned";window.pwned=1</script> database down`),
		testreceiver.Always(http.StatusOK, `{"received":true}`)))
	// Three quick attempts, then two an hour apart: a failing delivery
	// stays pending long enough to be seen, retried, and redelivered.
	sys := startSystem(t, options{retrySchedule: "200ms,200ms,1h,1h"})
	ws := sys.newWorkspace(t)
	b := newBrowser(t, sys)

	// The Trackelio app's backend asks for a portal link and opens it for
	// its user (in a frame, or by a redirect).
	var link client.PortalSession
	ws.call(t, "POST", "/v1/portal-sessions", nil, http.StatusCreated, &link)
	b.open(link.URL)
	if got := b.path(); got != "/dashboard/webhooks" {
		t.Fatalf("the portal link led to %s, want /dashboard/webhooks", got)
	}
	b.wantText("Workspaces", ws.Name, "Webhooks", "No webhooks yet", "Create Webhook")
	b.check("webhooks-empty")

	// "Navigate to Workspaces > Webhooks. Click Create Webhook."
	b.follow(`//nav[@aria-label="Dashboard"]//a[normalize-space()="Webhooks"]`)
	b.follow(byText("a", "Create Webhook"))
	b.wantText("URL", "Events", "Active", "Select which events should trigger a delivery.")
	b.check("create-webhook")
	// Each event unfolds an example of its data.
	b.do(chromedp.Click(`//li[.//code[text()="post.created"]]//summary`, chromedp.NodeVisible))
	b.wantText(`"source": "widget"`)
	b.check("create-webhook-example")

	// "Provide the URL, the Events, Active/Inactive. Save the webhook."
	b.do(chromedp.SendKeys(inputLabelled("URL"), rc.URL("/hooks/trackelio")),
		chromedp.Click(`//label[.//code[text()="post.created"]]/input`),
		chromedp.Click(`//label[.//code[text()="comment.created"]]/input`))
	if on, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.querySelector('input[role="switch"][aria-label="Active"]').checked`)); err != nil || !on {
		t.Fatalf("the Active switch is not on by default (%v)", err)
	}
	b.follow(byText("button", "Save"))
	b.wantText("Webhook created", "Store it securely — you will need it to validate incoming requests.")
	secret := b.shownSecret("secret")
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("the page shows the secret %q", secret)
	}
	b.check("webhook-created")
	// Reloading the page the creation led to creates nothing and shows the
	// secret no more.
	b.reload()
	b.wantText("Webhook created", "The secret was shown once, when the webhook was created.")
	if strings.Contains(b.text(), secret) {
		t.Error("a reload shows the secret again")
	}
	if hooks := ws.webhooks(t); len(hooks) != 1 {
		t.Fatalf("after a reload of Webhook created the workspace has %d webhooks, want 1", len(hooks))
	}
	b.check("webhook-created-reloaded")
	b.follow(byText("a", "Continue to the webhook"))
	hookPath := b.path()
	hookID := strings.TrimPrefix(hookPath, "/dashboard/webhooks/")
	if _, err := uuid.Parse(hookID); err != nil {
		t.Fatalf("the webhook page is %s", hookPath)
	}

	// Events reported through the API arrive signed with that secret and
	// show in the history with their status code.
	ws.postEvent(t, "post.created", testfactory.EventData(t, "post.created", map[string]any{"case": 1}))
	ws.postEvent(t, "comment.created", testfactory.EventData(t, "comment.created", map[string]any{"comment_id": "7"}))
	ws.postEvent(t, "nps.submitted", testfactory.EventData(t, "nps.submitted", nil)) // not subscribed
	for _, r := range rc.waitRequests(t, sys, 2) {
		if !signature.Verify(secret, r.Body, r.Header.Get(signature.Header)) {
			t.Errorf("delivery %s does not verify with the secret the page showed", r.Delivery())
		}
	}
	b.reloadUntil(`table.history td[data-label="Status code"] .code.ok`, 2)
	b.wantText("post.created", "comment.created", `{"received":true}`)
	b.check("webhook")

	// A delivery shows the exact request and the response.
	b.follow(`(//table[contains(@class,"history")]//td[@data-label="Timestamp"]/a)[1]`)
	newest := rc.Request(t, strings.TrimPrefix(b.path(), "/dashboard/deliveries/"))
	b.wantText("Request", "X-Trackelio-Signature", newest.Header.Get(signature.Header), newest.Header.Get("webhook-signature"),
		"Attempt 1", `{"received":true}`, `"comment_id": "7"`)
	b.check("delivery")

	// The receiver fails: the failed attempts show with their status code,
	// the failure count rises, and the history says where the delivery
	// stands: attempt 3 of 5, when the next is, when it gives up.
	failing.Store(true)
	ws.postEvent(t, "post.created", testfactory.EventData(t, "post.created", map[string]any{"case": 2}))
	b.open(hookPath)
	b.reloadUntil(`table.history td[data-label="Status code"] .code.fail`, 1)
	// The page reads the webhook's health and its history at once, so one
	// render may show the third attempt but not yet its count: reload
	// until both show it.
	b.sys.waitFor(t, "the third attempt to show", func() (bool, string) {
		b.reload()
		got, count := b.firstRow("Attempts"), b.statText("Failure count")
		return strings.HasPrefix(got, "3 of 5") && count == "3", got + ", failure count " + count
	})
	b.wantText("500", "Pending")
	if got := b.firstRow("Attempts"); !strings.Contains(got, "next") || !strings.Contains(got, "gives up") {
		t.Errorf("the pending row's attempts read %q, want the next attempt and when it gives up", got)
	}
	if got := b.firstRow("Timestamp"); !strings.Contains(got, "created") {
		t.Errorf("the timestamp cell reads %q, want the time sent and the time created", got)
	}
	b.check("webhook-retrying")
	b.follow(`(//table[contains(@class,"history")]//td[@data-label="Timestamp"]/a)[1]`)
	b.wantText("Pending", "Next attempt", "Gives up", "Attempt 3", "Attempt 2", "Attempt 1", "receiver answered 500 Internal Server Error",
		`<script>document.title="pwned";window.pwned=1</script> database down`)
	// The receiver's answer is text on the page, never script.
	if pwned, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.pwned === 1 || document.title === "pwned"`)); err != nil || pwned {
		t.Errorf("the receiver's response body ran as script (%v)", err)
	}
	b.check("delivery-retrying")

	// Redeliver once the receiver is fixed: while the delivery is still
	// pending that asks first.
	failing.Store(false)
	before := len(rc.Requests())
	b.follow(byText("button", "Redeliver"))
	b.wantText("Redeliver while it is still being delivered?", "your endpoint may get the event twice")
	b.check("redeliver-confirm")
	b.follow(byText("button", "Redeliver anyway"))
	b.wantText("A new delivery of the same event was created")
	b.reloadUntil(`.stats .outcome-ok`, 1)
	if got := rc.waitRequests(t, sys, before+1); got[len(got)-1].Header.Get("X-Trackelio-Event") != "post.created" {
		t.Errorf("the redelivery sent %q", got[len(got)-1].Header.Get("X-Trackelio-Event"))
	}

	// A live test event shows the endpoint's answer in place.
	b.open(hookPath)
	b.do(chromedp.Click(byText("button", "Send test event"), chromedp.NodeVisible),
		chromedp.WaitVisible(`#test-result dl`))
	b.wantText("Open the delivery")
	if got := b.statText("Status code"); got != "200" {
		t.Errorf("the test result shows status code %q", got)
	}
	b.check("webhook-tested")

	// Rotating the secret shows the new one once; a reload neither shows
	// it again nor rotates again. Without a grace period it asks first.
	b.open(hookPath + "#secret")
	b.do(chromedp.SetValue(chromedp.CSS("#grace_period"), "0s"))
	b.follow(byText("button", "Rotate secret"))
	b.wantText("Rotate the secret with no grace period?", "The old secret stops signing at once")
	b.check("rotate-confirm")
	b.follow(byText("a", "Cancel"))
	if got := ws.secret(t, hookID); got != secret {
		t.Fatalf("a cancelled rotation changed the secret")
	}
	b.follow(byText("button", "Rotate secret")) // the default grace period: 24 hours
	b.wantText("The secret was rotated.", "The previous secret keeps signing")
	rotated := b.shownSecret("new-secret")
	if rotated == secret || rotated != ws.secret(t, hookID) {
		t.Fatalf("the rotation shows %q, want the new stored secret", rotated)
	}
	b.check("secret-rotated")
	b.reload()
	if strings.Contains(b.text(), rotated) || ws.secret(t, hookID) != rotated {
		t.Errorf("a reload after the rotation shows the secret again or rotated it again")
	}
	b.wantText("The previous secret keeps signing")

	// Switched Inactive, after a confirmation that says what it cancels,
	// the webhook gets no new delivery.
	b.open(hookPath + "#settings")
	b.do(chromedp.Click(`//label[contains(@class,"switch")]/input[@aria-label="Active"]`))
	b.follow(byText("button", "Save"))
	b.wantText("Turn this webhook off?", "will be cancelled")
	b.check("turn-off-confirm")
	b.follow(byText("button", "Turn off"))
	b.wantText("The webhook is inactive. Its pending deliveries are cancelled.", "Inactive")
	b.check("webhook-inactive")
	b.open("/dashboard/webhooks")
	b.wantText("Inactive")
	b.check("webhooks-inactive")
	b.open(hookPath)
	received := len(rc.Requests())
	if acc := ws.postEvent(t, "post.created", testfactory.EventData(t, "post.created", map[string]any{"case": 3})); acc.Deliveries != 0 {
		t.Errorf("an event for the inactive webhook made %d deliveries", acc.Deliveries)
	}
	if got := len(rc.Requests()); got != received {
		t.Errorf("the receiver got %d more requests after the webhook went inactive", got-received)
	}

	// Deleting asks first.
	b.follow(byText("a", "Delete webhook"))
	b.wantText("Delete this webhook?", "This cannot be undone.")
	b.check("delete-webhook")
	b.follow(byText("a", "Cancel"))

	// Sign out, then in with the workspace API key; an unknown id is a 404.
	b.follow(byText("button", "Sign out"))
	b.wantText("You are signed out.", "Workspace API key")
	b.check("sign-in")
	b.do(chromedp.SendKeys(inputLabelled("Workspace API key"), ws.token))
	b.follow(byText("button", "Sign in"))
	if got := b.path(); got != "/dashboard/webhooks" {
		t.Fatalf("signing in led to %s", got)
	}
	b.wantText(rc.URL("/hooks/trackelio"), "Inactive")
	b.check("webhooks")
	b.open("/dashboard/webhooks/" + uuid.NewString())
	b.wantText("Not found")
	b.check("not-found")
}

// reload reloads the page and waits for it.
func (b *browser) reload() {
	b.t.Helper()
	b.do(chromedp.Reload())
}

// shownSecret reads the secret shown in the field with the id, which no
// process may log from then on.
func (b *browser) shownSecret(id string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.ID(id)))
	if err != nil || s == "" {
		b.t.Fatalf("read the secret in #%s: %q, %v", id, s, err)
	}
	b.sys.rememberSecret(s)
	return s
}

// firstRow is the text of a column of the history's first row.
func (b *browser) firstRow(column string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(fmt.Sprintf(`(//table[contains(@class,"history")]//td[@data-label=%q])[1]`, column)))
	if err != nil {
		b.t.Fatalf("history column %q: %v", column, err)
	}
	return strings.Join(strings.Fields(s), " ")
}

// statText is the value shown under a statistic's name.
func (b *browser) statText(name string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(fmt.Sprintf(`//dt[normalize-space()=%q]/following-sibling::dd[1]`, name)))
	if err != nil {
		b.t.Fatalf("statistic %q: %v", name, err)
	}
	return strings.TrimSpace(s)
}

// TestDashboardFailureNoticesInABrowser looks at a workspace whose webhooks
// are in trouble: the list's banner counts them in words and links each, a
// failing webhook's page opens with what is wrong and what to do and lists
// the notices sent with each mail's fate, and a webhook disabled after a
// 410 says so. The real binaries fail and disable the webhooks; the
// notices are decided as the workers decide them, recorded through the
// store with a policy that tells at the first failure, since the test
// cannot wait for a real streak's hours. Every page passes axe-core, light
// and dark, and is photographed at desktop and phone widths.
func TestDashboardFailureNoticesInABrowser(t *testing.T) {
	t.Parallel()
	down := newReceiver(t, testreceiver.Always(http.StatusInternalServerError, "database down"))
	gone := newReceiver(t, testreceiver.Always(http.StatusGone, "this endpoint was removed"))
	// The operator's endpoint listens for the delivery that gives up.
	ops := newReceiver(t, testreceiver.Always(http.StatusNoContent, ""))
	// Failed deliveries wait an hour for their retry: the test sees them
	// pending.
	sys := startSystem(t, options{retrySchedule: "1h,1h", env: map[string]string{
		"OPERATIONAL_WEBHOOK_URL": ops.URL("/ops"), "OPERATIONAL_WEBHOOK_SECRET": operationalSecret}})
	ws := sys.newWorkspace(t)
	store := sys.store(t)
	b := newBrowser(t, sys)

	flaky := ws.createWebhook(t, map[string]any{"url": down.URL("/hooks/crm"), "events": []string{"post.created"},
		"description": "CRM sync", "notify_emails": []string{"ops@example.com", "oncall@example.com"}})
	risky := ws.createWebhook(t, map[string]any{"url": down.URL("/hooks/billing"), "events": []string{"comment.created"}})
	removed := ws.createWebhook(t, map[string]any{"url": gone.URL("/hooks/old"), "events": []string{"nps.submitted"}})
	paused := ws.createWebhook(t, map[string]any{"url": gone.URL("/hooks/paused"), "events": []string{"csat.submitted"}})
	ws.call(t, "PATCH", "/v1/webhooks/"+paused.ID, map[string]any{"active": false}, http.StatusOK, nil)
	for i := range 2 {
		ws.postEvent(t, "post.created", testfactory.EventData(t, "post.created", map[string]any{"case": i}))
		ws.postEvent(t, "comment.created", testfactory.EventData(t, "comment.created", map[string]any{"case": i}))
	}
	ws.postEvent(t, "nps.submitted", testfactory.EventData(t, "nps.submitted", nil))
	crm, billing := ws.attempted(t, flaky.ID, 2), ws.attempted(t, risky.ID, 2)
	sys.waitFor(t, "the 410 to disable its webhook", func() (bool, string) {
		h := ws.webhook(t, removed.ID)
		return !h.Active, fmt.Sprintf("active %v", h.Active)
	})

	// The second attempts, as a worker whose notice policy tells at once
	// records them: the CRM endpoint is failing and one of its deliveries
	// gave up; the billing one has failed for an hour and a half of a
	// two-hour auto-disable.
	tell := delivery.NoticePolicy{FailingAfter: 1, AtRiskAt: 0.5}
	disable := delivery.AutoDisable{After: 2 * time.Hour, MinFailures: 100}
	failed := func(d client.Delivery, at time.Time, final bool) repo.AttemptResult {
		r := repo.AttemptResult{DeliveryID: d.ID, Attempt: 2, StatusCode: 500, ResponseBody: []byte("database down"),
			Error: "receiver answered 500 Internal Server Error", Duration: 4 * time.Millisecond, At: at,
			NewStatus: delivery.StatusPending, NextAttemptAt: time.Now().Add(time.Hour), Notices: tell, AutoDisable: disable,
			EventID: d.EventID, EventType: d.EventType}
		if final {
			r.NewStatus = delivery.StatusFailed
		}
		return r
	}
	now := time.Now()
	testfactory.Record(t, store, failed(crm[1], now, false))
	testfactory.Record(t, store, failed(crm[0], now.Add(time.Millisecond), true))
	testfactory.Record(t, store, failed(billing[1], now.Add(-90*time.Minute), false))
	testfactory.Record(t, store, failed(billing[0], now, false))
	// The failing notice's mail went to ops@ and waits to be retried for
	// oncall@; the delivery that gave up is not a notice CRM sync mails.
	notices, err := store.WebhookNotices(t.Context(), ws.ID, flaky.ID, 10)
	if err != nil || len(notices) != 2 {
		t.Fatalf("notices of the CRM webhook: %v, %v; want failing and exhausted", notices, err)
	}
	for _, n := range notices {
		to := []string(nil)
		if n.Kind == delivery.NoticeFailing {
			to = []string{"ops@example.com", "oncall@example.com"}
		}
		if err := store.MarkNoticeDispatched(t.Context(), n.ID, to, now); err != nil {
			t.Fatal(err)
		}
		for i, addr := range to {
			o := repo.MailOutcome{Status: repo.MailSent, At: now}
			if i == 1 {
				o = repo.MailOutcome{Status: repo.MailPending, Error: "relay answered 451 4.7.1 try again later", At: now, NextAttemptAt: now.Add(5 * time.Minute)}
			}
			if err := store.RecordMail(t.Context(), repo.Mail{Address: addr, Notices: []repo.Notice{n}}, o); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Workspaces > Webhooks says which need attention, most urgent first.
	var link client.PortalSession
	ws.call(t, "POST", "/v1/portal-sessions", nil, http.StatusCreated, &link)
	b.open(link.URL)
	b.wantText("1 webhook was disabled after failing", "1 webhook is failing and will be disabled soon", "1 webhook is failing",
		gone.URL("/hooks/old"), "its endpoint answered 410 Gone", down.URL("/hooks/billing"), down.URL("/hooks/crm"), "Inactive")
	if got := b.count(`section.attention a.url`); got != 3 {
		t.Errorf("the banner links %d webhooks, want the 3 in trouble", got)
	}
	b.check("webhooks-attention")

	// The failing webhook's page opens with what is wrong and what to do,
	// and lists the notices and their mails.
	b.follow(fmt.Sprintf(`//section[contains(@class,"attention")]//a[normalize-space()=%q]`, down.URL("/hooks/crm")))
	b.wantText("This webhook is failing", "Failing since", "Consecutive failures", "Last error", "receiver answered 500 Internal Server Error",
		"Next attempt", "1 delivery is waiting", "What to do", "Fix the endpoint.", "Recover what failed.", "Recover 1 delivery",
		"Failure notices", "Mailed to ops@example.com, oncall@example.com", "Failing", "Sent", "Waiting to retry",
		"relay answered 451 4.7.1 try again later", "A delivery gave up", "not mailed")
	if top, health := b.offsetTop("#trouble"), b.offsetTop("#health"); top >= health {
		t.Errorf("the trouble section (at %d px) is not above the health (at %d px)", top, health)
	}
	b.check("webhook-failing")

	// The webhook that will be disabled soon says so.
	b.open("/dashboard/webhooks/" + risky.ID)
	b.wantText("This webhook is failing and will be disabled soon", "2 deliveries are waiting")
	b.check("webhook-at-risk")

	// The webhook a 410 disabled says why, and that re-enabling it comes
	// with an offer to recover what failed.
	b.open("/dashboard/webhooks/" + removed.ID)
	b.wantText("Trackelio disabled this webhook: its endpoint answered 410 Gone", "410", "Re-enable the webhook.", "Re-enable webhook",
		"No notification address: notices are only listed here.")
	b.check("webhook-gone")

	// A webhook its owner switched off is no trouble: its badge, on its
	// page and in the list, is read as Inactive in either scheme.
	b.open("/dashboard/webhooks/" + paused.ID)
	b.wantText("This webhook is inactive.")
	if got := b.count("#trouble"); got != 0 {
		t.Error("a webhook switched off by its owner shows a trouble section")
	}
	b.check("webhook-paused")
	// Its badge, and the badges of the list, are readable in either scheme
	// by axe-core's colour contrast rule, undecided nodes included.
	b.contrastCheck("webhook-paused", ".health")
	b.open("/dashboard/webhooks")
	b.contrastCheck("webhooks-attention", ".health")

	// Settings: the Failure notices fieldset holds the addresses.
	b.open("/dashboard/webhooks/" + flaky.ID + "#settings")
	if got, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.ID("notify_emails"))); err != nil || got != "ops@example.com\noncall@example.com" {
		t.Errorf("the settings' addresses read %q (%v)", got, err)
	}
}

// attempted waits until the webhook has n deliveries that each had their
// first attempt, and returns them oldest first.
func (w *workspace) attempted(t testing.TB, webhookID string, n int) []client.Delivery {
	t.Helper()
	var rows []client.Delivery
	w.sys.waitFor(t, fmt.Sprintf("%d first attempts of webhook %s", n, webhookID), func() (bool, string) {
		rows = w.rows(t, webhookID)
		done := 0
		for _, d := range rows {
			if d.Attempts == 1 {
				done++
			}
		}
		return len(rows) == n && done == n, fmt.Sprintf("%d deliveries, %d attempted", len(rows), done)
	})
	slices.Reverse(rows)
	return rows
}

// store opens the system's database as the binaries do, for a test that
// plays a worker.
func (s *system) store(t testing.TB) *repo.Store {
	t.Helper()
	st, err := repo.Open(t.Context(), s.databaseURL, repo.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// offsetTop is how far from the top of the page the element the CSS
// selector finds is, in CSS pixels.
func (b *browser) offsetTop(css string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](fmt.Sprintf(`Math.round(document.querySelector(%q).getBoundingClientRect().top + window.scrollY)`, css)))
	if err != nil {
		b.t.Fatal(err)
	}
	return n
}
