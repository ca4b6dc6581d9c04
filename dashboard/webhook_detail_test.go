package dashboard_test

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/repo"
)

// historyIDs are the delivery ids a history page lists, in order.
func historyIDs(p page) []string {
	var ids []string
	for _, m := range regexp.MustCompile(`<td data-label="Timestamp"><a href="/dashboard/deliveries/([0-9a-f-]{36})">`).FindAllStringSubmatch(p.Body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// olderLink is the page's "Older" link, unescaped, or "".
func olderLink(p page) string {
	m := regexp.MustCompile(`<a class="button" href="([^"]+)" rel="next">Older</a>`).FindStringSubmatch(p.Body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func TestWebhookDetailHistory(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws, _ := f.mustWorkspace(t, "Acme")
	hook := f.mustWebhook(t, ws, "https://receiver.example/hook", "post.created", "comment.created")
	retry := answered500
	retry.NewStatus, retry.NextAttemptAt = repo.StatusPending, time.Now().Add(time.Hour)
	// 30 deliveries, oldest first: every third a comment; every fifth
	// failed twice then succeeded; every seventh is waiting for a retry.
	var newestFirst []string
	for i := range 30 {
		typ := "post.created"
		if i%3 == 0 {
			typ = "comment.created"
		}
		var results []repo.AttemptResult
		switch {
		case i%7 == 0:
			results = []repo.AttemptResult{retry}
		case i%5 == 0:
			results = []repo.AttemptResult{retry, retry, answered200}
		default:
			results = []repo.AttemptResult{answered200}
		}
		newestFirst = append([]string{f.mustDeliver(t, hook, typ, map[string]any{"i": i}, results...)}, newestFirst...)
	}
	v := f.signedIn(t, ws)
	p := v.get(t, "/dashboard/webhooks/"+hook.ID)
	p.wantStatus(t, http.StatusOK)
	p.wantText(t, "Delivery history", "Timestamp", "Status code", "Response body", "Attempts", "Failure count", "Outcome",
		"Last 24 hours", "Last 7 days", "Send test event", "Reveal secret", "Verify signatures")
	first := historyIDs(p)
	if diff := cmp.Diff(newestFirst[:25], first); diff != "" {
		t.Errorf("first page (-want +got):\n%s", diff)
	}
	older := olderLink(p)
	if older == "" {
		t.Fatal("no Older link after a full page")
	}
	rest := v.get(t, strings.TrimSuffix(older, "#history"))
	if diff := cmp.Diff(newestFirst[25:], historyIDs(rest)); diff != "" {
		t.Errorf("older page (-want +got):\n%s", diff)
	}
	if olderLink(rest) != "" {
		t.Errorf("the last page links to an older one")
	}
	rest.wantHTML(t, `>Newest</a>`)

	// The row of delivery 25 (failed twice, then 200): attempts 3, failure count 2.
	row := p.Body[strings.Index(p.Body, newestFirst[29-25]):]
	row = row[:strings.Index(row, "</tr>")]
	page{Body: row}.wantHTML(t, `<code>post.created</code>`, `class="code ok">200<`, `<code class="excerpt">{&#34;ok&#34;:true}</code>`,
		`"Attempts" class="num">3<`, `"Failure count" class="num">2<`, `outcome-ok`)
	// The charts count by outcome: 5 waiting for a retry (0, 7, 14, 21, 28), 25 succeeded.
	p.wantText(t, "Deliveries in the last 24 hours: 25 succeeded, 5 pending.")

	tests := []struct {
		query string
		want  func(i int) bool
	}{
		{"?outcome=pending", func(i int) bool { return i%7 == 0 }},
		{"?event_type=comment.created", func(i int) bool { return i%3 == 0 }},
		{"?outcome=succeeded&event_type=comment.created", func(i int) bool { return i%3 == 0 && i%7 != 0 }},
		{"?outcome=failed", func(int) bool { return false }},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var want []string
			for i := 29; i >= 0; i-- {
				if tt.want(i) {
					want = append(want, newestFirst[29-i])
				}
			}
			got := historyIDs(v.get(t, "/dashboard/webhooks/"+hook.ID+tt.query))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
	bad := v.get(t, "/dashboard/webhooks/"+hook.ID+"?outcome=lost&cursor=zzz")
	bad.wantStatus(t, http.StatusOK)
	bad.wantText(t, "The history could not be filtered that way: status must be one of succeeded, failed, pending, cancelled.")
}

func TestWebhookDetailShowsResponsesAsText(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws, _ := f.mustWorkspace(t, "Acme")
	hook := f.mustWebhook(t, ws, "https://receiver.example/hook", "post.created")
	evil := answered500
	evil.ResponseBody = []byte(`<script>document.title="pwned"</script><img src=x onerror=alert(1)>` + "\xff")
	id := f.mustDeliver(t, hook, "post.created", map[string]any{"title": "<b>bold</b>"}, evil)
	v := f.signedIn(t, ws)
	for _, path := range []string{"/dashboard/webhooks/" + hook.ID, "/dashboard/deliveries/" + id} {
		p := v.get(t, path)
		p.wantStatus(t, http.StatusOK)
		if strings.Contains(p.Body, "<script>document") || strings.Contains(p.Body, "<img src=x") || strings.Contains(p.Body, "<b>bold") {
			t.Errorf("%s: a receiver's or producer's markup reached the page as markup", path)
		}
		p.wantHTML(t, `&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;`+"\uFFFD")
	}
}
