package noticemail_test

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/noticemail"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	hookURL = "https://example.com/hooks"
	unsub   = "https://app.example.com/unsubscribe?token=t0k"
)

func ptr[T any](v T) *T { return &v }

// decided is when the notices of the tests were decided.
func decided() time.Time { return time.Date(2026, 12, 7, 16, 40, 0, 0, time.UTC) }

// figures are a failing webhook's, changed by each of change.
func figures(change ...func(*delivery.Figures)) delivery.Figures {
	f := delivery.Figures{
		Webhook:             delivery.NoticeWebhook{ID: "wh_1", URL: hookURL, Description: "Orders sync"},
		State:               "failing",
		FailingSince:        ptr(time.Date(2026, 12, 7, 14, 3, 0, 0, time.UTC)),
		ConsecutiveFailures: 12,
		LastFailureAt:       ptr(time.Date(2026, 12, 7, 16, 39, 0, 0, time.UTC)),
		LastStatusCode:      ptr(503),
		LastError:           ptr("upstream connect error"),
		NextAttemptAt:       ptr(time.Date(2026, 12, 7, 17, 10, 0, 0, time.UTC)),
		DisableAt:           ptr(time.Date(2026, 12, 12, 14, 3, 0, 0, time.UTC)),
		DashboardURL:        "https://app.example.com/webhooks/wh_1",
	}
	for _, c := range change {
		c(&f)
	}
	return f
}

func disabled(reason string) func(*delivery.Figures) {
	return func(f *delivery.Figures) {
		f.State, f.DisabledReason, f.DisabledAt = "disabled", ptr(reason), ptr(time.Date(2026, 12, 12, 14, 5, 0, 0, time.UTC))
		f.NextAttemptAt, f.DisableAt = nil, nil
		if reason == "gone" {
			f.LastStatusCode = ptr(410)
		}
	}
}

func recovered(f *delivery.Figures) {
	*f = delivery.Figures{Webhook: f.Webhook, State: "healthy", DashboardURL: f.DashboardURL}
}

func exhausted(f *delivery.Figures) {
	f.Delivery = &delivery.NoticeDelivery{
		ID: "dl_7", EventID: "evt_42", EventType: "post.created", Attempts: 8,
		LastStatusCode: ptr(500), LastError: ptr("boom"), FinishedAt: time.Date(2026, 12, 7, 16, 38, 0, 0, time.UTC),
	}
	f.DashboardURL = "https://app.example.com/deliveries/dl_7"
}

func one(n delivery.Notice, f delivery.Figures) []noticemail.Item {
	return []noticemail.Item{{Notice: n, Figures: f, At: decided()}}
}

// TestComposeOne: each notice's subject, and the figures a person needs
// in both bodies.
func TestComposeOne(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		items   []noticemail.Item
		subject string
		want    []string // in the text and the HTML
		notWant []string
	}{
		{
			name:    "failing",
			items:   one(delivery.NoticeFailing, figures()),
			subject: "Webhook failing: https://example.com/hooks (12 failures since 14:03 UTC)",
			want: []string{hookURL, "Orders sync", "are failing", "2026-12-07 14:03 UTC", "Failures in a row", "12", "2026-12-07 16:39 UTC",
				"HTTP 503 Service Unavailable", "upstream connect error", "Next attempt", "2026-12-07 17:10 UTC", "2026-12-12 14:03 UTC",
				"Fix the endpoint", "Send test event", "Recover what failed", "https://app.example.com/webhooks/wh_1", "Open the webhook"},
			notWant: []string{"Disabled at", "Re-enable"},
		},
		{
			name:    "failing since an earlier day",
			items:   one(delivery.NoticeFailing, figures(func(f *delivery.Figures) { f.FailingSince = ptr(time.Date(2026, 12, 6, 23, 50, 0, 0, time.UTC)) })),
			subject: "Webhook failing: https://example.com/hooks (12 failures since 2026-12-06 23:50 UTC)",
			want:    []string{"2026-12-06 23:50 UTC"},
		},
		{
			name:    "one failure, no start",
			items:   one(delivery.NoticeFailing, figures(func(f *delivery.Figures) { f.ConsecutiveFailures, f.FailingSince = 1, nil })),
			subject: "Webhook failing: https://example.com/hooks (1 failure)",
			want:    []string{"1 failure in a row"},
			notWant: []string{"Failing since"},
		},
		{
			name:    "at risk",
			items:   one(delivery.NoticeAtRisk, figures(func(f *delivery.Figures) { f.State = "at_risk" })),
			subject: "Webhook will be disabled on 2026-12-12: https://example.com/hooks",
			want: []string{"Webhook will be disabled on 2026-12-12", "will be disabled on 2026-12-12 14:03 UTC if every attempt until then fails",
				"12", "HTTP 503", "Next attempt", "Send test event", "Recover what failed"},
		},
		{
			name:    "at risk, no date",
			items:   one(delivery.NoticeAtRisk, figures(func(f *delivery.Figures) { f.DisableAt = nil })),
			subject: "Webhook at risk of being disabled: https://example.com/hooks",
			want:    []string{"will soon be disabled"},
			notWant: []string{"Will be disabled"},
		},
		{
			name:    "disabled, kept failing",
			items:   one(delivery.NoticeDisabled, figures(disabled("failing"))),
			subject: "Webhook disabled: https://example.com/hooks",
			want: []string{"disabled because its deliveries kept failing", "Disabled at", "2026-12-12 14:05 UTC", "12 failures in a row",
				"HTTP 503", "Re-enable", "Recover what failed", "Send test event", "no deliveries until it is re-enabled"},
			notWant: []string{"Next attempt", "Will be disabled"},
		},
		{
			name:    "disabled, gone",
			items:   one(delivery.NoticeDisabled, figures(disabled("gone"))),
			subject: "Webhook disabled: https://example.com/hooks (410 Gone)",
			want:    []string{"answered 410 Gone", "HTTP 410 Gone", "Re-enable"},
			notWant: []string{"kept failing"},
		},
		{
			name:    "recovered",
			items:   one(delivery.NoticeRecovered, figures(recovered)),
			subject: "Webhook recovered: https://example.com/hooks",
			want:    []string{"works again", "deliveries to it resume", "Recovered at", "2026-12-07 16:40 UTC", "Open the webhook"},
			notWant: []string{"Last response", "Fix the endpoint"},
		},
		{
			name:    "exhausted",
			items:   one(delivery.NoticeExhausted, figures(exhausted)),
			subject: "Delivery gave up: post.created to https://example.com/hooks",
			want: []string{"post.created", "evt_42", "dl_7", "after 8 attempts", "HTTP 500 Internal Server Error", "boom", "2026-12-07 16:38 UTC",
				"Send test event", "Recover what failed", "https://app.example.com/deliveries/dl_7", "Open the delivery"},
			notWant: []string{"HTTP 503"},
		},
		{
			name:    "exhausted without its delivery",
			items:   one(delivery.NoticeExhausted, figures()),
			subject: "Delivery gave up: https://example.com/hooks",
			want:    []string{"A delivery to this webhook gave up"},
		},
		{
			name:    "a notice of another kind",
			items:   one("webhook.renamed", figures()),
			subject: "Webhook notice: https://example.com/hooks (webhook.renamed)",
			want:    []string{"This webhook is now failing."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := noticemail.Compose("Acme", tt.items, unsub)
			if got.Subject != tt.subject {
				t.Errorf("Subject = %q, want %q", got.Subject, tt.subject)
			}
			footer := []string{"notification address of a webhook in workspace Acme", unsub}
			for _, body := range []struct{ name, s string }{{"text", got.Text}, {"HTML", got.HTML}} {
				for _, w := range append(tt.want, footer...) {
					if !strings.Contains(body.s, w) {
						t.Errorf("%s body lacks %q:\n%s", body.name, w, body.s)
					}
				}
				for _, w := range tt.notWant {
					if strings.Contains(body.s, w) {
						t.Errorf("%s body has %q:\n%s", body.name, w, body.s)
					}
				}
			}
		})
	}
}

// TestComposeDigest: several notices make one mail, most severe first
// and otherwise in the order given.
func TestComposeDigest(t *testing.T) {
	t.Parallel()
	hook := func(id string, change ...func(*delivery.Figures)) delivery.Figures {
		return figures(append(change, func(f *delivery.Figures) {
			f.Webhook.ID, f.Webhook.URL = id, "https://"+id+".example.com/hook"
		})...)
	}
	items := []noticemail.Item{
		{Notice: delivery.NoticeRecovered, Figures: hook("a", recovered)},
		{Notice: delivery.NoticeFailing, Figures: hook("b")},
		{Notice: delivery.NoticeExhausted, Figures: hook("c", exhausted)},
		{Notice: delivery.NoticeDisabled, Figures: hook("d", disabled("failing"))},
		{Notice: delivery.NoticeFailing, Figures: hook("e")},
		{Notice: delivery.NoticeAtRisk, Figures: hook("f")},
		{Notice: delivery.NoticeExhausted, Figures: hook("c", exhausted)}, // a second of c's deliveries
	}
	given := slices.Clone(items)
	got := noticemail.Compose("Acme", items, unsub)
	if want := "6 webhooks in Acme changed state (1 disabled, 1 at risk, 2 failing, 2 deliveries gave up, 1 recovered)"; got.Subject != want {
		t.Errorf("Subject = %q, want %q", got.Subject, want)
	}
	for _, body := range []struct{ name, s string }{{"text", got.Text}, {"HTML", got.HTML}} {
		var order []string
		for _, line := range strings.Split(body.s, "\n") {
			for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
				if strings.Contains(line, "https://"+id+".example.com/hook") {
					order = append(order, id)
				}
			}
		}
		if diff := cmp.Diff([]string{"d", "f", "b", "e", "c", "c", "a"}, order); diff != "" {
			t.Errorf("webhooks in the %s body, in order (-want +got):\n%s", body.name, diff)
		}
		for _, w := range []string{"6 webhooks in workspace Acme", "notification address of webhooks in workspace Acme", unsub} {
			if !strings.Contains(body.s, w) {
				t.Errorf("%s body lacks %q", body.name, w)
			}
		}
	}
	if got, want := noticemail.Compose("", items[:2], unsub).Subject, "2 webhooks changed state (1 failing, 1 recovered)"; got != want {
		t.Errorf("Subject without a workspace = %q, want %q", got, want)
	}
	if diff := cmp.Diff(given, items); diff != "" {
		t.Errorf("Compose changed its items (-before +after):\n%s", diff)
	}
}

// TestComposeHostile: what the customer wrote cannot add a header, a
// line or markup to the mail.
func TestComposeHostile(t *testing.T) {
	t.Parallel()
	hostile := figures(func(f *delivery.Figures) {
		f.Webhook.URL = "https://evil.example/\r\nBcc: all@example.com\u2028x\u202e"
		f.Webhook.Description = "<script>alert(1)</script>\nOpen the webhook: https://phish.example"
		f.LastError = ptr("<img src=x onerror=alert(2)>\r\n")
		f.DashboardURL = "javascript:alert(3)"
	})
	items := []noticemail.Item{
		{Notice: delivery.NoticeFailing, Figures: hostile},
		{Notice: delivery.NoticeExhausted, Figures: figures(exhausted, func(f *delivery.Figures) {
			f.Webhook.URL, f.Delivery.EventType = "https://b.example\n", "post.created\r\nX-Evil: 1"
		})},
	}
	for _, tt := range []struct {
		name  string
		items []noticemail.Item
	}{{"one", items[:1]}, {"exhausted", items[1:]}, {"digest", items}} {
		got := noticemail.Compose("Acme\r\nBcc: all@example.com", tt.items, unsub+"\nPwned")
		if i := strings.IndexFunc(got.Subject, func(r rune) bool { return unicode.IsControl(r) || r == '\u2028' || r == '\u202e' }); i >= 0 {
			t.Errorf("%s: Subject %q has a control character", tt.name, got.Subject)
		}
		for _, bad := range []string{"<script>", "<img", "javascript:", "Pwned"} {
			if strings.Contains(got.HTML, bad) {
				t.Errorf("%s: HTML has %q:\n%s", tt.name, bad, got.HTML)
			}
		}
		for _, bad := range []string{"\nBcc:", "\nOpen the webhook: https://phish", "\nX-Evil", "javascript:", "\nPwned"} {
			if strings.Contains(got.Text, bad) {
				t.Errorf("%s: text has a line of the customer's, %q:\n%s", tt.name, bad, got.Text)
			}
		}
	}
	got := noticemail.Compose("Acme", items[:1], unsub)
	if !strings.Contains(got.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("HTML does not show the description as text:\n%s", got.HTML)
	}
}

// TestComposeSubjectLength: a long URL or workspace name is shortened,
// and what follows it kept.
func TestComposeSubjectLength(t *testing.T) {
	t.Parallel()
	long := "https://example.com/" + strings.Repeat("päth/", 300)
	tests := []struct {
		name      string
		workspace string
		items     []noticemail.Item
		prefix    string
		suffix    string
	}{
		{"long URL", "Acme", one(delivery.NoticeFailing, figures(func(f *delivery.Figures) { f.Webhook.URL = long })),
			"Webhook failing: https://example.com/päth/", "… (12 failures since 14:03 UTC)"},
		{"long workspace", strings.Repeat("Acme ", 100), []noticemail.Item{
			{Notice: delivery.NoticeFailing, Figures: figures()},
			{Notice: delivery.NoticeRecovered, Figures: figures(recovered, func(f *delivery.Figures) { f.Webhook.ID = "wh_2" })},
		}, "2 webhooks in Acme Acme", "… changed state (1 failing, 1 recovered)"},
	}
	for _, tt := range tests {
		got := noticemail.Compose(tt.workspace, tt.items, unsub).Subject
		if n := utf8.RuneCountInString(got); n > 200 || !strings.HasPrefix(got, tt.prefix) || !strings.HasSuffix(got, tt.suffix) {
			t.Errorf("%s: Subject of %d runes %q, want at most 200 from %q to %q", tt.name, n, got, tt.prefix, tt.suffix)
		}
	}
}

// TestComposeMissingFigures: figures left out are left out of the mail,
// never shown as Go's zero values.
func TestComposeMissingFigures(t *testing.T) {
	t.Parallel()
	bare := delivery.Figures{Webhook: delivery.NoticeWebhook{URL: hookURL}}
	for _, n := range append(slices.Clone(delivery.Notices), "webhook.renamed") {
		for _, f := range []delivery.Figures{bare, {Webhook: bare.Webhook, ConsecutiveFailures: 3, Delivery: &delivery.NoticeDelivery{}}} {
			got := noticemail.Compose("", []noticemail.Item{{Notice: n, Figures: f}}, "")
			for _, s := range []string{got.Subject, got.Text, got.HTML} {
				for _, bad := range []string{"<nil>", "0001-01-01", "%!", "()", "0 failures", "0 attempts", "Open the", "unsubscribe", "workspace"} {
					if strings.Contains(s, bad) {
						t.Errorf("%s with %d failures: %q in\n%s", n, f.ConsecutiveFailures, bad, s)
					}
				}
			}
			if f.ConsecutiveFailures > 0 && n != delivery.NoticeRecovered && !strings.Contains(got.Text, "no response") {
				t.Errorf("%s with failures and no status code does not say \"no response\":\n%s", n, got.Text)
			}
		}
	}
}

// TestComposeGolden keeps the exact text and HTML of a mail about one
// webhook and of a digest; run with -update to rewrite them.
func TestComposeGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		items []noticemail.Item
	}{
		{"failing", one(delivery.NoticeFailing, figures())},
		{"digest", []noticemail.Item{
			{Notice: delivery.NoticeRecovered, Figures: figures(recovered, func(f *delivery.Figures) { f.Webhook.ID, f.Webhook.URL = "wh_2", "https://b.example.com/in" }), At: decided()},
			{Notice: delivery.NoticeExhausted, Figures: figures(exhausted), At: decided()},
			{Notice: delivery.NoticeDisabled, Figures: figures(disabled("gone"), func(f *delivery.Figures) { f.Webhook.ID, f.Webhook.URL = "wh_3", "https://c.example.com/gone" }), At: decided()},
		}},
	}
	for _, tt := range tests {
		got := noticemail.Compose("Acme", tt.items, unsub)
		for ext, body := range map[string]string{"txt": "Subject: " + got.Subject + "\n\n" + got.Text, "html": got.HTML} {
			golden(t, filepath.Join("testdata", tt.name+"."+ext), body)
		}
	}
}

func golden(tb testing.TB, path, got string) {
	tb.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run go test -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		tb.Errorf("%s (-want +got):\n%s", path, diff)
	}
}
