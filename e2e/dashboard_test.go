package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testreceiver"
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
