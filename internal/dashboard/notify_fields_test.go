package dashboard_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/manage"
)

var (
	noticeBox  = regexp.MustCompile(`<input type="checkbox" name="notify_on" value="([a-z._]+)"( checked)?>`)
	notifyText = regexp.MustCompile(`(?s)<textarea id="notify_emails"[^>]*>(.*?)</textarea>`)
)

// notifyForm is what the page's Failure notices fieldset holds: the
// addresses' text and the ticked notices.
func notifyForm(tb testing.TB, p page) (string, []string) {
	tb.Helper()
	m := notifyText.FindStringSubmatch(p.Body)
	if m == nil {
		tb.Fatal("no notification addresses on the page")
	}
	ticked := []string{}
	for _, b := range noticeBox.FindAllStringSubmatch(p.Body, -1) {
		if b[2] != "" {
			ticked = append(ticked, b[1])
		}
	}
	return m[1], ticked
}

var healthNotices = []string{"webhook.failing", "webhook.at_risk", "webhook.disabled", "webhook.recovered"}

// Create Webhook has a Failure notices fieldset: addresses, and the five
// notices in words with their event types, the health ones ticked.
func TestCreateWebhookFailureNoticesFields(t *testing.T) {
	t.Parallel()
	_, _, v := setupSignedIn(t)
	p := v.getOK(t, "/dashboard/webhooks/new")
	p.wantHTML(t, `<legend>Failure notices</legend>`, `<label for="notify_emails">Notification addresses`,
		`<input type="hidden" name="notify_form" value="on">`, `<legend>Mail these notices</legend>`)
	p.wantText(t, fmt.Sprintf("One email address per line, at most %d.", manage.MaxNotifyEmails))
	for _, label := range []string{"Failing", "Will be disabled soon", "Disabled", "Recovered", "A delivery gave up"} {
		p.wantText(t, label)
	}
	text, ticked := notifyForm(t, p)
	if text != "" || !cmp.Equal(ticked, healthNotices) {
		t.Errorf("a new form holds %q and ticks %v; want no address and %v", text, ticked, healthNotices)
	}
	if n := len(noticeBox.FindAllString(p.Body, -1)); n != 5 {
		t.Errorf("%d notice boxes, want 5", n)
	}
}

// The addresses and notices typed are stored, cleaned, and shown again on
// the webhook's page and in its settings.
func TestFailureNoticesRoundTrip(t *testing.T) {
	t.Parallel()
	f, ws, v := setupSignedIn(t)
	v.post(t, "/dashboard/webhooks", v.form(t, "url", "https://receiver.example/hook", "events", "post.created", "active", "on",
		"notify_form", "on", "notify_emails", "Ops@Example.com\r\n\r\n  dev@example.com  \r\n", "notify_on", "webhook.disabled",
		"notify_on", "delivery.exhausted")).wantRedirectTo(t, "/dashboard/webhooks/")
	hooks, err := f.store.Webhooks(t.Context(), ws)
	if err != nil || len(hooks) != 1 {
		t.Fatalf("webhooks = %v, %v", hooks, err)
	}
	h := hooks[0]
	if diff := cmp.Diff([][]string{{"ops@example.com", "dev@example.com"}, {"webhook.disabled", "delivery.exhausted"}},
		[][]string{h.NotifyEmails, h.NotifyOn}); diff != "" {
		t.Errorf("stored addresses and notices (-want +got):\n%s", diff)
	}
	p := v.getOK(t, "/dashboard/webhooks/"+h.ID)
	noticesOf(t, p).wantText(t, "ops@example.com", "dev@example.com", ": Disabled, A delivery gave up.")
	text, ticked := notifyForm(t, p)
	if text != "ops@example.com\ndev@example.com" || !cmp.Equal(ticked, []string{"webhook.disabled", "delivery.exhausted"}) {
		t.Errorf("the settings hold %q and tick %v", text, ticked)
	}
}

// The fieldset always sends its marker, so unticking every box mails
// nothing and emptying the addresses removes them; a form without the
// fieldset (a page from before it) leaves both as they were.
func TestFailureNoticesUncheckAll(t *testing.T) {
	t.Parallel()
	f, ws, _ := setupSignedIn(t)
	hook := f.mustNotifyingWebhook(t, ws, "https://receiver.example/hook", "ops@example.com")
	v, path := f.signedInTo(t, hook)
	settings := []string{"url", hook.URL, "events", "post.created", "active", "on"}

	v.post(t, path, v.form(t, settings...)).wantRedirect(t, path+"?notice=saved")
	if got := f.mustGetWebhook(t, hook); !cmp.Equal(got.NotifyEmails, []string{"ops@example.com"}) || !cmp.Equal(got.NotifyOn, healthNotices) {
		t.Errorf("a form without the fieldset changed them: %v, %v", got.NotifyEmails, got.NotifyOn)
	}
	v.post(t, path, v.form(t, append(settings, "notify_form", "on", "notify_emails", "")...)).wantRedirect(t, path+"?notice=saved")
	got := f.mustGetWebhook(t, hook)
	if len(got.NotifyEmails) != 0 || len(got.NotifyOn) != 0 || got.NotifyOn == nil {
		t.Errorf("after unticking all: addresses %v, notices %#v; want none of either", got.NotifyEmails, got.NotifyOn)
	}
	_, ticked := notifyForm(t, v.getOK(t, path))
	if len(ticked) != 0 {
		t.Errorf("the settings tick %v after unticking all", ticked)
	}
}

// A refused address or notice shows its error beside its field, keeps what
// was typed and ticked, and stores nothing.
func TestFailureNoticesRefused(t *testing.T) {
	t.Parallel()
	f, ws, v := setupSignedIn(t)
	hook := f.mustNotifyingWebhook(t, ws, "https://receiver.example/hook", "ops@example.com")
	var eleven []string
	for i := range 11 {
		eleven = append(eleven, fmt.Sprintf("ops%d@example.com", i))
	}
	tests := []struct {
		name   string
		emails string
		on     []string
		errors map[string]string
	}{
		{"a carriage return inside an address", "ops@example.com\rBcc: evil@example.com", nil,
			map[string]string{"notify_emails": `notify_emails: &#34;ops@example.com&#34; contains a line break or another control character`}},
		{"a line that is no address", "ops@example.com\r\nBcc: evil@example.com", nil,
			map[string]string{"notify_emails": `notify_emails: &#34;Bcc: evil@example.com&#34; is not an email address like ops@example.com`}},
		{"eleven addresses", strings.Join(eleven, "\r\n"), []string{"webhook.failing"},
			map[string]string{"notify_emails": "notify_emails lists 11 addresses; at most 10"}},
		{"an unknown notice", "ops@example.com", []string{"webhook.failing", "webhook.exploded"},
			map[string]string{"notify_on": `notify_on: unknown notice &#34;webhook.exploded&#34;; one of webhook.failing, webhook.at_risk, webhook.disabled, webhook.recovered, delivery.exhausted`}},
	}
	before, snapshot := f.rowCounts(t), f.webhookSnapshot(t, hook.ID)
	for _, form := range []struct{ name, path string }{{"create", "/dashboard/webhooks"}, {"edit", "/dashboard/webhooks/" + hook.ID}} {
		for _, tt := range tests {
			t.Run(form.name+" "+tt.name, func(t *testing.T) {
				fields := []string{"url", "https://receiver.example/other", "events", "post.created", "active", "on",
					"notify_form", "on", "notify_emails", tt.emails}
				for _, n := range tt.on {
					fields = append(fields, "notify_on", n)
				}
				p := v.post(t, form.path, v.form(t, fields...))
				p.wantStatus(t, http.StatusUnprocessableEntity)
				if diff := cmp.Diff(tt.errors, p.fieldErrors()); diff != "" {
					t.Errorf("field errors (-want +got):\n%s", diff)
				}
				if _, ok := tt.errors["notify_emails"]; ok {
					p.wantHTML(t, `aria-describedby="notify_emails-hint notify_emails-error" aria-invalid="true"`)
				} else {
					p.wantHTML(t, `<fieldset class="field invalid" aria-describedby="notify_on-error">`)
				}
				text, ticked := notifyForm(t, p)
				if want := strings.ReplaceAll(tt.emails, "\r\n", "\n"); text != want && text != tt.emails {
					t.Errorf("the form keeps %q, want %q", text, tt.emails)
				}
				if want := knownOnly(tt.on); !cmp.Equal(ticked, want) {
					t.Errorf("the form ticks %v, want %v", ticked, want)
				}
			})
		}
	}
	dbtest.WantRowCounts(t, f.db, before, "refused forms")
	if got := f.webhookSnapshot(t, hook.ID); got != snapshot {
		t.Errorf("a refused edit changed the webhook")
	}
}

// knownOnly is the notices of a form that have a box, in the boxes' order.
func knownOnly(on []string) []string {
	out := []string{}
	for _, n := range append(healthNotices, "delivery.exhausted") {
		for _, o := range on {
			if o == n {
				out = append(out, n)
			}
		}
	}
	return out
}
