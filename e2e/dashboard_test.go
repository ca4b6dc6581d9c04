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
	"github.com/trackelio/webhooks/internal/testenv"
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
	rc := newReceiver(t, func(testenv.Received, int, int) testenv.Answer {
		if failing.Load() {
			return testenv.Answer{Status: http.StatusInternalServerError, Body: `<script>document.title="pwned";window.pwned=1</script> database down`}
		}
		return testenv.Answer{Status: http.StatusOK, Body: `{"received":true}`}
	})
	sys := startSystem(t, options{})
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
	secret, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.ID("secret")))
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("read the secret: %q, %v", secret, err)
	}
	sys.mu.Lock()
	sys.secrets = append(sys.secrets, secret)
	sys.mu.Unlock()
	b.check("webhook-created")
	b.follow(byText("a", "Continue to the webhook"))
	hookPath := b.path()
	hookID := strings.TrimPrefix(hookPath, "/dashboard/webhooks/")
	if _, err := uuid.Parse(hookID); err != nil {
		t.Fatalf("the webhook page is %s", hookPath)
	}

	// Events reported through the API arrive signed with that secret and
	// show in the history with their status code.
	ws.postEvent(t, "post.created", testenv.EventData(t, "post.created", map[string]any{"case": 1}))
	ws.postEvent(t, "comment.created", testenv.EventData(t, "comment.created", map[string]any{"comment_id": "7"}))
	ws.postEvent(t, "nps.submitted", testenv.EventData(t, "nps.submitted", nil)) // not subscribed
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
	// and the failure count rises.
	failing.Store(true)
	ws.postEvent(t, "post.created", testenv.EventData(t, "post.created", map[string]any{"case": 2}))
	b.open(hookPath)
	b.reloadUntil(`table.history .outcome-fail`, 1)
	b.wantText("500")
	if got := b.statText("Failure count"); got != "3" {
		t.Errorf("failure count after 3 failed attempts = %q", got)
	}
	b.follow(`(//table[contains(@class,"history")]//td[@data-label="Timestamp"]/a)[1]`)
	b.wantText("Failed", "Attempt 3", "Attempt 2", "Attempt 1", "receiver answered 500 Internal Server Error",
		`<script>document.title="pwned";window.pwned=1</script> database down`)
	// The receiver's answer is text on the page, never script.
	if pwned, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.pwned === 1 || document.title === "pwned"`)); err != nil || pwned {
		t.Errorf("the receiver's response body ran as script (%v)", err)
	}
	b.check("delivery-failed")

	// Redeliver once the receiver is fixed.
	failing.Store(false)
	before := len(rc.Requests())
	b.follow(byText("button", "Redeliver"))
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

	// Switched Inactive, the webhook gets no new delivery.
	b.do(chromedp.Click(`//label[contains(@class,"switch")]/input[@aria-label="Active"]`))
	b.follow(byText("button", "Save"))
	b.wantText("Your changes were saved.", "Inactive")
	received := len(rc.Requests())
	if acc := ws.postEvent(t, "post.created", testenv.EventData(t, "post.created", map[string]any{"case": 3})); acc.Deliveries != 0 {
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

// statText is the value shown under a statistic's name.
func (b *browser) statText(name string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(fmt.Sprintf(`//dt[normalize-space()=%q]/following-sibling::dd[1]`, name)))
	if err != nil {
		b.t.Fatalf("statistic %q: %v", name, err)
	}
	return strings.TrimSpace(s)
}
