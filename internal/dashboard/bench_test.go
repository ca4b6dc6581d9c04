package dashboard_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/testfactory"
)

// BenchmarkPages renders the pages of a webhook with 10,000 deliveries in
// its history (and 9 more webhooks with 1,000 each) over real HTTP and
// PostgreSQL. It reports the server time of each page, as its Server-Timing
// header says, next to the wall time per request.
func BenchmarkPages(b *testing.B) {
	f, ws, hook := setupWebhook(b, "https://busy.example/hook", "post.created", "comment.created")
	for i := range 9 {
		other := f.mustWebhook(b, ws, fmt.Sprintf("https://other.example/%d", i), "post.created")
		testfactory.SeedHistory(b, f.db, ws, other.ID, 1000, 10*time.Minute)
	}
	testfactory.SeedHistory(b, f.db, ws, hook.ID, 10000, time.Minute)
	dbtest.Analyze(b, f.db)
	var delivery string
	if err := f.db.Get(&delivery, `SELECT id FROM deliveries WHERE webhook_id = $1 ORDER BY created_at DESC LIMIT 1`, hook.ID); err != nil {
		b.Fatal(err)
	}
	v := f.signedIn(b, ws)
	first := v.get(b, "/dashboard/webhooks/"+hook.ID)
	older := pagerLink(first, "next")
	for _, pg := range []struct{ name, path string }{
		{"webhooks", "/dashboard/webhooks"},
		{"webhook", "/dashboard/webhooks/" + hook.ID},
		{"webhook_older", older},
		{"webhook_rare_type", "/dashboard/webhooks/" + hook.ID + "?event_type=comment.created"},
		{"delivery", "/dashboard/deliveries/" + delivery},
	} {
		b.Run(pg.name, func(b *testing.B) {
			var server time.Duration
			for b.Loop() {
				p := v.get(b, pg.path)
				if p.Status != http.StatusOK {
					b.Fatalf("%s: status %d", pg.path, p.Status)
				}
				server += serverTiming(b, p)
			}
			b.ReportMetric(float64(server.Microseconds())/1000/float64(b.N), "server-ms/op")
		})
	}
}

// serverTiming reads "app;dur=<ms>" from a page's Server-Timing header.
func serverTiming(tb testing.TB, p page) time.Duration {
	tb.Helper()
	v, ok := strings.CutPrefix(p.Header.Get("Server-Timing"), "app;dur=")
	ms, err := strconv.ParseFloat(v, 64)
	if !ok || err != nil {
		tb.Fatalf("Server-Timing = %q", p.Header.Get("Server-Timing"))
	}
	return time.Duration(ms * float64(time.Millisecond))
}
