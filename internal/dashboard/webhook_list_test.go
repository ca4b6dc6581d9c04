package dashboard_test

import (
	"strings"
	"testing"
	"time"

	"github.com/trackelio/webhooks/internal/delivery"
)

func TestWebhookListEmptyState(t *testing.T) {
	t.Parallel()
	_, _, v := setupSignedIn(t)
	p := v.getOK(t, "/dashboard/webhooks")
	p.wantText(t, "No webhooks yet",
		"Webhooks let you receive real-time HTTP notifications when events occur in your Trackelio workspace.",
	)
	p.wantHTML(t, `<a class="button primary" href="/dashboard/webhooks/new">Create Webhook</a>`)
}

func TestWebhookListShowsHealth(t *testing.T) {
	t.Parallel()
	f, ws, healthy := setupWebhook(t, "https://ok.example/hook", "post.created")
	failing := f.mustWebhook(t, ws, "https://flaky.example/hook", "post.created", "nps.submitted")
	gone := f.mustWebhook(t, ws, "https://gone.example/hook", "comment.created")
	quiet := f.mustWebhook(t, ws, "https://quiet.example/hook", "csat.submitted")
	f.mustDeliver(t, healthy, "post.created", nil, answered200)
	f.mustDeliver(t, failing, "post.created", nil, answered200)
	pending := answered500
	pending.NewStatus, pending.NextAttemptAt = delivery.StatusPending, time.Now().Add(time.Hour)
	f.mustDeliver(t, failing, "post.created", nil, pending)
	f.mustDeliver(t, failing, "post.created", nil, pending)
	f.mustDisable(t, gone.ID, "gone")
	_ = quiet

	p := f.signedIn(t, ws).getOK(t, "/dashboard/webhooks")
	rows := strings.Split(p.Body, "<tr>")[2:] // the header row, then one per webhook, oldest first
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4", len(rows))
	}
	tests := []struct {
		name string
		row  string
		want []string
	}{
		{"healthy", rows[0], []string{"https://ok.example/hook", "<code>post.created</code>", "Active", `class="code ok">200<`,
			`"Failure count" class="num">0<`, `"Success rate (24 h)" class="num">100.0 %<`}},
		{"failing", rows[1], []string{"https://flaky.example/hook", "<code>nps.submitted</code>", "the last 2 attempts failed",
			`class="code fail">500<`, `"Failure count" class="num">2<`, `"Consecutive failures" class="num">2<`, "33.3 %"}},
		{"gone", rows[2], []string{"Inactive", "disabled: the endpoint answered 410 Gone", "none yet", "no attempts"}},
		{"quiet", rows[3], []string{"https://quiet.example/hook", "Active", "none yet", "no attempts"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page{Body: tt.row}.wantHTML(t, tt.want...)
			if t.Failed() {
				t.Logf("row:\n%s", tt.row)
			}
		})
	}
}
