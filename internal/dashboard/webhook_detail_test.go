package dashboard_test

import (
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/delivery"
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

// pagerLink is the page's link of the given rel ("next" is Older, "prev"
// Newer), unescaped and without its fragment, or "".
func pagerLink(p page, rel string) string {
	m := regexp.MustCompile(`<a class="button" href="([^"]+)" rel="` + rel + `">`).FindStringSubmatch(p.Body)
	if m == nil {
		return ""
	}
	return strings.TrimSuffix(html.UnescapeString(m[1]), "#history")
}

func TestWebhookDetailHistory(t *testing.T) {
	t.Parallel()
	f, _, hook := setupWebhook(t, "https://receiver.example/hook", "post.created", "comment.created")
	timeout := repo.AttemptResult{Error: "timed out after 10s", Duration: 10 * time.Second, NewStatus: delivery.StatusFailed}
	// 55 deliveries, oldest first: every third a comment; every fifth
	// failed twice then succeeded; every seventh is waiting for a retry;
	// the newest timed out.
	var newestFirst []string
	for i := range 55 {
		typ := "post.created"
		if i%3 == 0 {
			typ = "comment.created"
		}
		var results []repo.AttemptResult
		switch {
		case i == 54:
			results = []repo.AttemptResult{timeout}
		case i%7 == 0:
			results = []repo.AttemptResult{answered500Retrying}
		case i%5 == 0:
			results = []repo.AttemptResult{answered500Retrying, answered500Retrying, answered200}
		default:
			results = []repo.AttemptResult{answered200}
		}
		newestFirst = append([]string{f.mustDeliver(t, hook, typ, map[string]any{"i": i}, results...)}, newestFirst...)
	}
	v, path := f.signedInTo(t, hook)
	p := v.getOK(t, path)
	p.wantText(t, "Delivery history", "Timestamp", "Status code", "Response body", "Attempts", "Failure count", "Outcome",
		"Last 24 hours", "Last 7 days", "Send test event", "Reveal secret", "Verify signatures")

	// Older, then Newer, walk the pages back and forth.
	pages := [][]string{newestFirst[:25], newestFirst[25:50], newestFirst[50:]}
	at := p
	for i, want := range pages {
		if diff := cmp.Diff(want, historyIDs(at)); diff != "" {
			t.Errorf("page %d going older (-want +got):\n%s", i+1, diff)
		}
		if got := pagerLink(at, "prev") != ""; got != (i > 0) {
			t.Errorf("page %d has a Newer link: %v", i+1, got)
		}
		older := pagerLink(at, "next")
		if (older != "") != (i < len(pages)-1) {
			t.Fatalf("page %d has an Older link: %q", i+1, older)
		}
		if older != "" {
			at = v.get(t, older)
		}
	}
	at.wantHTML(t, `>Newest</a>`)
	for i := len(pages) - 2; i >= 0; i-- {
		at = v.get(t, pagerLink(at, "prev"))
		if diff := cmp.Diff(pages[i], historyIDs(at)); diff != "" {
			t.Errorf("page %d going newer (-want +got):\n%s", i+1, diff)
		}
	}

	rowOf := func(id string) page {
		row := p.Body[strings.Index(p.Body, `<td data-label="Timestamp"><a href="/dashboard/deliveries/`+id):]
		return page{Body: row[:strings.Index(row, "</tr>")]}
	}
	// Delivery 50 (failed twice, then 200): sent at its last attempt,
	// attempts 3 of 10, failure count 2.
	rowOf(newestFirst[54-50]).wantHTML(t, `<code>post.created</code>`, `class="code ok">200<`, `<code class="excerpt">{&#34;ok&#34;:true}</code>`,
		`<td data-label="Attempts">3 of 10</td>`, `"Failure count" class="num">2<`, `outcome-ok`, `created <time`)
	// Delivery 49 waits for its second attempt: when, and when it gives up.
	pending := rowOf(newestFirst[54-49])
	pending.wantHTML(t, `<td data-label="Attempts">1 of 10<span class="muted small block">next <time`, `gives up <time`, `>Pending</span>`)
	// Delivery 54 had no answer: the row says why.
	rowOf(newestFirst[0]).wantHTML(t, `title="no response">—</span> <span class="reason">timed out after 10s</span>`, `outcome-fail`)
	// The charts count by outcome: 8 waiting for a retry (0, 7, … 49), 46 succeeded, 1 failed.
	p.wantText(t, "Deliveries in the last 24 hours: 46 succeeded, 1 failed, 8 pending.")

	tests := []struct {
		query string
		want  func(i int) bool
	}{
		{"?outcome=pending", func(i int) bool { return i%7 == 0 }},
		{"?event_type=comment.created", func(i int) bool { return i%3 == 0 }},
		{"?outcome=succeeded&event_type=comment.created", func(i int) bool { return i%3 == 0 && i%7 != 0 && i != 54 }},
		{"?outcome=failed", func(i int) bool { return i == 54 }},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var want []string
			for i := 54; i >= 0; i-- {
				if tt.want(i) {
					want = append(want, newestFirst[54-i])
				}
			}
			got := historyIDs(v.get(t, path+tt.query))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
	bad := v.getOK(t, path+"?outcome=lost&cursor=zzz")
	bad.wantText(t, "The history could not be filtered that way: status must be one of succeeded, failed, pending, cancelled.")
}

func TestWebhookDetailShowsResponsesAsText(t *testing.T) {
	t.Parallel()
	f, _, hook := setupWebhook(t, "https://receiver.example/hook", "post.created")
	evil := answered500
	evil.ResponseBody = []byte(`<script>document.title="pwned"</script><img src=x onerror=alert(1)>` + "\xff")
	id := f.mustDeliver(t, hook, "post.created", map[string]any{"title": "<b>bold</b>"}, evil)
	v, hookPath := f.signedInTo(t, hook)
	for _, path := range []string{hookPath, "/dashboard/deliveries/" + id} {
		p := v.getOK(t, path)
		if strings.Contains(p.Body, "<script>document") || strings.Contains(p.Body, "<img src=x") || strings.Contains(p.Body, "<b>bold") {
			t.Errorf("%s: a receiver's or producer's markup reached the page as markup", path)
		}
		p.wantHTML(t, `&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;`+"\uFFFD")
	}
}
