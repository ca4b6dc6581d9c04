package dashboard_test

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/repo"
)

func TestDeliveryPage(t *testing.T) {
	t.Parallel()
	f, ws, hook := setupWebhook(t, "https://receiver.example/hook", "post.created")
	first := answered500
	first.NewStatus, first.NextAttemptAt = delivery.StatusPending, time.Now()
	first.ResponseHeaders = map[string]string{"Retry-After": "30", "Content-Type": "text/plain"}
	first.ResponseHeadersDropped = 3
	first.RequestHeaders = map[string]string{"X-Trackelio-Signature": "aaaa", "webhook-timestamp": "1"}
	second := answered200
	second.ResponseTruncated = true
	second.RequestHeaders = map[string]string{"X-Trackelio-Signature": "bbbb", "webhook-signature": "v1,c2ln", "webhook-timestamp": "2"}
	id := f.mustDeliver(t, hook, "post.created", map[string]any{"post_id": "42", "title": "Dark mode"}, first, second)
	v := f.signedIn(t, ws)
	p := v.getOK(t, "/dashboard/deliveries/"+id)
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
	// Headers the bounds left out are said to be missing.
	p.wantText(t, "Response headers (2; 3 more not stored: at most 50 headers and 8 KiB are kept)")
	p.wantHTML(t, `action="/dashboard/deliveries/`+id+`/redeliver"`)
	// The failure count is the failed attempts: one.
	p.wantHTML(t, `<dt>Failure count</dt><dd class="big">1</dd>`)
}

func TestRedeliver(t *testing.T) {
	t.Parallel()
	f, ws, hook := setupWebhook(t, "https://receiver.example/hook", "post.created")
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

	// While a delivery is still pending, a redelivery would run beside its
	// retries: that asks first, and asking changes nothing.
	retrying := f.mustDeliver(t, hook, "post.created", nil, answered500Retrying)
	d := v.get(t, "/dashboard/deliveries/"+retrying)
	d.wantText(t, "Pending", "Next attempt", "Gives up", "if every attempt fails")
	d.wantHTML(t, `<dt>Attempts</dt><dd><span class="big">1</span> of 10</dd>`)
	before := f.rowCounts(t)
	ask := v.post(t, "/dashboard/deliveries/"+retrying+"/redeliver", v.form(t))
	ask.wantStatus(t, http.StatusOK)
	ask.wantText(t, "Redeliver while it is still being delivered?", "This delivery is still pending: 1 of its 10 attempts made, the next at",
		"your endpoint may get the event twice")
	dbtest.WantRowCounts(t, f.db, before, "asking")
	v.post(t, "/dashboard/deliveries/"+retrying+"/redeliver", v.form(t, "confirm", "yes")).wantRedirectTo(t, "/dashboard/deliveries/")

	// An inactive webhook takes no redelivery, and the page says why.
	f.mustTurnOff(t, hook)
	v.get(t, "/dashboard/deliveries/"+orig).wantText(t, "Activate the webhook to redeliver.")
	refused := v.post(t, "/dashboard/deliveries/"+orig+"/redeliver", v.form(t))
	refused.wantStatus(t, http.StatusConflict)
	refused.wantText(t, "The webhook is inactive; activate it before redelivering.")
}

// A 10 KB event nested 5,000 levels deep, stored before the api bounded
// depth, made its page 50 MB and cost 200 MB to render. Its page stays
// small and cheap; the exact bytes stay one click away. Not parallel: it
// measures the process's allocations.
func TestDeliveryPageOfADeepEventIsBounded(t *testing.T) {
	f, ws, _ := setupWebhook(t, "https://receiver.example/hook", "post.created")
	id := uuid.NewString()
	body := fmt.Sprintf(`{"id":%q,"type":"post.created","data":{"deep":%s%s}}`, id, strings.Repeat("[", 5000), strings.Repeat("]", 5000))
	delivery := testfactory.Delivery(t, f.store, repo.NewEvent{ID: id, WorkspaceID: ws, Type: "post.created", Body: []byte(body)}, "")
	v := f.signedIn(t, ws)
	path := "/dashboard/deliveries/" + delivery
	v.getOK(t, path) // warm the templates and the pool

	// Bound: the page's own work, a few times the body it shows, plus the
	// HTTP round trip and the queries; before, 200 MB.
	const maxAlloc = 1 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p := v.get(t, path)
	runtime.ReadMemStats(&after)
	p.wantStatus(t, http.StatusOK)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("FIGURE deep_event_page_bytes=%d deep_event_page_alloc_bytes=%d", len(p.Body), alloc)
	if alloc > maxAlloc || len(p.Body) > 64<<10 {
		t.Errorf("the page of a 5,000-deep event allocated %d bytes and is %d bytes; want at most %d and 64 KiB", alloc, len(p.Body), maxAlloc)
	}
	p.wantText(t, "The body nests deeper than 32 levels or is not plain JSON: it is shown as sent, not indented.", "Download the body")

	dl := v.getOK(t, path+"/body")
	if dl.Body != body || dl.Header.Get("Content-Type") != "application/octet-stream" || !strings.HasPrefix(dl.Header.Get("Content-Disposition"), "attachment;") {
		t.Errorf("download: %d bytes as %q (%q), want the %d bytes signed as an attachment", len(dl.Body), dl.Header.Get("Content-Type"), dl.Header.Get("Content-Disposition"), len(body))
	}
}
