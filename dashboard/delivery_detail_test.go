package dashboard_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trackelio/webhooks/repo"
)

func TestDeliveryPage(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws, _ := f.mustWorkspace(t, "Acme")
	hook := f.mustWebhook(t, ws, "https://receiver.example/hook", "post.created")
	first := answered500
	first.NewStatus, first.NextAttemptAt = repo.StatusPending, time.Now()
	first.ResponseHeaders = map[string]string{"Retry-After": "30", "Content-Type": "text/plain"}
	first.RequestHeaders = map[string]string{"X-Trackelio-Signature": "aaaa", "webhook-timestamp": "1"}
	second := answered200
	second.ResponseTruncated = true
	second.RequestHeaders = map[string]string{"X-Trackelio-Signature": "bbbb", "webhook-signature": "v1,c2ln", "webhook-timestamp": "2"}
	id := f.mustDeliver(t, hook, "post.created", map[string]any{"post_id": "42", "title": "Dark mode"}, first, second)
	v := f.signedIn(t, ws)
	p := v.get(t, "/dashboard/deliveries/"+id)
	p.wantStatus(t, http.StatusOK)
	p.wantText(t, "Delivery", "post.created", "Succeeded", "Request", "As sent by attempt 2", "Attempts",
		"Attempt 2", "Attempt 1", "(truncated: only the first 64 KiB were stored)", "receiver answered 500 Internal Server Error")
	// The latest attempt's headers, not the first's.
	p.wantHTML(t, `<code>X-Trackelio-Signature</code></th><td><code class="wrap">bbbb</code>`, `<code>webhook-signature</code>`)
	if strings.Contains(p.Body, ">aaaa<") {
		t.Error("the request shows the first attempt's signature")
	}
	// The body pretty-printed, and raw as signed.
	p.wantHTML(t, "{\n  &#34;id&#34;:", "&#34;post_id&#34;:&#34;42&#34;")
	// Attempts newest first, each with its response.
	if a2, a1 := strings.Index(p.Body, ">Attempt 2 "), strings.Index(p.Body, ">Attempt 1 "); a2 < 0 || a1 < a2 {
		t.Errorf("attempts are not listed newest first")
	}
	p.wantHTML(t, "<code>Retry-After</code>", ">boom</pre>", ">{&#34;ok&#34;:true}</pre>")
	p.wantHTML(t, `action="/dashboard/deliveries/`+id+`/redeliver"`)
	// The failure count is the failed attempts: one.
	p.wantHTML(t, `<dt>Failure count</dt><dd class="big">1</dd>`)
}

func TestRedeliver(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws, _ := f.mustWorkspace(t, "Acme")
	hook := f.mustWebhook(t, ws, "https://receiver.example/hook", "post.created")
	orig := f.mustDeliver(t, hook, "post.created", nil, answered500)
	v := f.signedIn(t, ws)

	p := v.post(t, "/dashboard/deliveries/"+orig+"/redeliver", v.form(t))
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "/dashboard/deliveries/") {
		t.Fatalf("redeliver answered %d to %q", p.Status, p.Header.Get("Location"))
	}
	newID := strings.TrimSuffix(strings.TrimPrefix(p.Header.Get("Location"), "/dashboard/deliveries/"), "?notice=redelivered")
	if got := f.enq.Enqueued(); len(got) != 1 || got[0] != newID {
		t.Errorf("enqueued %v, want the new delivery %s", got, newID)
	}
	page := v.get(t, p.Header.Get("Location"))
	page.wantText(t, "A new delivery of the same event was created", "Pending", "Redelivery of")
	page.wantHTML(t, `href="/dashboard/deliveries/`+orig+`"`)

	// An inactive webhook takes no redelivery, and the page says why.
	off := false
	if _, err := f.store.UpdateWebhook(t.Context(), ws, hook.ID, repo.WebhookPatch{Active: &off}); err != nil {
		t.Fatal(err)
	}
	v.get(t, "/dashboard/deliveries/"+orig).wantText(t, "Activate the webhook to redeliver.")
	refused := v.post(t, "/dashboard/deliveries/"+orig+"/redeliver", v.form(t))
	refused.wantStatus(t, http.StatusConflict)
	refused.wantText(t, "The webhook is inactive; activate it before redelivering.")
}
