package dashboard_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/dashboard"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/repo"
)

// banner is the list's banner: each group's sentence and the webhooks it
// links to, "" when there is no banner.
func banner(p page) (sentences []string, links []string) {
	start := strings.Index(p.Body, `<section class="attention"`)
	if start < 0 {
		return nil, nil
	}
	b := p.Body[start:]
	b = b[:strings.Index(b, "</section>")]
	for _, m := range regexp.MustCompile(`<p class="attention-head"><span class="dot" aria-hidden="true"></span>([^<]+)</p>`).FindAllStringSubmatch(b, -1) {
		sentences = append(sentences, m[1])
	}
	for _, m := range regexp.MustCompile(`<a class="url" href="/dashboard/webhooks/([0-9a-f-]{36})">`).FindAllStringSubmatch(b, -1) {
		links = append(links, m[1])
	}
	return sentences, links
}

// The banner of Workspaces > Webhooks counts in words the webhooks whose
// owners were told they fail, that will be disabled soon, or that the
// service disabled, and links each; a blip nobody was told of, a webhook
// its owner switched off and a healthy one raise none.
func TestWebhookListBanner(t *testing.T) {
	t.Parallel()
	// A streak of an hour and a half is at risk at half of a two-hour
	// auto-disable; the page says when it comes.
	disable := delivery.AutoDisable{After: 2 * time.Hour, MinFailures: 100}
	f := setup(t, func(c *dashboard.Config) { c.AutoDisable = disable })
	// Failing an hour and a half ago and again now: the second failure
	// finds the streak at risk.
	atRisk := func() []repo.AttemptResult {
		var rs []repo.AttemptResult
		for _, r := range []repo.AttemptResult{ago(answered500Retrying, 90*time.Minute), answered500Retrying} {
			r = told(r)
			r.Notices.AtRiskAt, r.AutoDisable = 0.5, disable
			rs = append(rs, r)
		}
		return rs
	}
	untold := answered500Retrying
	untold.Notices = delivery.NoticePolicy{FailingAfter: 3}
	type hook struct {
		url     string
		results []repo.AttemptResult
		off     bool
	}
	tests := []struct {
		name      string
		hooks     []hook
		sentences []string
		linked    []int // the hooks the banner links, in its order
		texts     []string
	}{
		{"none", []hook{
			{url: "https://ok.example/", results: []repo.AttemptResult{answered200}},
			{url: "https://blip.example/", results: []repo.AttemptResult{untold}},
			{url: "https://off.example/", results: []repo.AttemptResult{told(answered500Retrying)}, off: true},
		}, nil, nil, nil},
		{"one failing", []hook{
			{url: "https://ok.example/"},
			{url: "https://flaky.example/", results: []repo.AttemptResult{told(ago(answered500Retrying, 3*time.Hour))}},
		}, []string{"1 webhook is failing"}, []int{1}, []string{"failing since"}},
		{"two failing", []hook{
			{url: "https://a.example/", results: []repo.AttemptResult{told(answered500Retrying)}},
			{url: "https://b.example/", results: []repo.AttemptResult{told(answered500Retrying)}},
		}, []string{"2 webhooks are failing"}, []int{0, 1}, nil},
		{"at risk", []hook{
			{url: "https://risky.example/", results: atRisk()},
		}, []string{"1 webhook is failing and will be disabled soon"}, []int{0}, []string{"will be disabled"}},
		{"disabled", []hook{
			{url: "https://gone.example/", results: []repo.AttemptResult{told(answered410)}},
		}, []string{"1 webhook was disabled after failing"}, []int{0}, []string{"— its endpoint answered 410 Gone"}},
		{"every kind, most urgent first", []hook{
			{url: "https://a.example/", results: []repo.AttemptResult{told(answered500Retrying)}},
			{url: "https://risky.example/", results: atRisk()},
			{url: "https://gone.example/", results: []repo.AttemptResult{told(answered410)}},
			{url: "https://b.example/", results: []repo.AttemptResult{told(answered500Retrying)}},
			{url: "https://c.example/", results: []repo.AttemptResult{told(answered500Retrying)}},
		}, []string{"1 webhook was disabled after failing", "1 webhook is failing and will be disabled soon", "3 webhooks are failing"},
			[]int{2, 1, 0, 3, 4}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ws, _ := f.mustWorkspace(t, "Acme")
			var ids []string
			for _, h := range tt.hooks {
				w := f.mustWebhook(t, ws, h.url, "post.created")
				if len(h.results) > 0 {
					f.mustDeliver(t, w, "post.created", nil, h.results...)
				}
				if h.off {
					f.mustTurnOff(t, w)
				}
				ids = append(ids, w.ID)
			}
			p := f.signedIn(t, ws).getOK(t, "/dashboard/webhooks")
			sentences, links := banner(p)
			if diff := cmp.Diff(tt.sentences, sentences); diff != "" {
				t.Errorf("banner (-want +got):\n%s", diff)
			}
			var want []string
			for _, i := range tt.linked {
				want = append(want, ids[i])
			}
			if diff := cmp.Diff(want, links); diff != "" {
				t.Errorf("webhooks linked (-want +got):\n%s", diff)
			}
			p.wantText(t, tt.texts...)
			if tt.sentences != nil {
				// Above the table, a region a screen reader can jump to,
				// not an alert read out on every load.
				p.wantHTML(t, `<section class="attention" aria-labelledby="attention-title">`)
				if strings.Index(p.Body, `class="attention"`) > strings.Index(p.Body, "<table") {
					t.Error("the banner is below the table")
				}
			}
		})
	}
}
