package dashboard_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/repo"
)

// noticesOf is the Failure notices section of a webhook's page.
func noticesOf(tb testing.TB, p page) page {
	tb.Helper()
	start := strings.Index(p.Body, `<section id="notices"`)
	if start < 0 {
		tb.Fatal("the page has no Failure notices section")
	}
	s := p.Body[start:]
	return page{Body: s[:strings.Index(s, "</section>")]}
}

// noticeRows are the rows of the notices table, newest first.
func noticeRows(p page) []page {
	var rows []page
	for _, r := range strings.Split(p.Body, "<tr>")[2:] { // the header row, then one per notice
		rows = append(rows, page{Body: r[:strings.Index(r, "</tr>")]})
	}
	return rows
}

// mustDispatch queues the notice's mail to the addresses, as the workers'
// dispatch does.
func (f *fixture) mustDispatch(tb testing.TB, noticeID string, addresses ...string) {
	tb.Helper()
	if err := f.store.MarkNoticeDispatched(context.Background(), noticeID, addresses, time.Now()); err != nil {
		tb.Fatal(err)
	}
}

// mustMail records how sending a notice's mail to an address ended.
func (f *fixture) mustMail(tb testing.TB, noticeID, address string, o repo.MailOutcome) {
	tb.Helper()
	if o.At.IsZero() {
		o.At = time.Now()
	}
	m := repo.Mail{Address: address, Notices: []repo.Notice{{ID: noticeID}}}
	if err := f.store.RecordMail(context.Background(), m, o); err != nil {
		tb.Fatal(err)
	}
}

// mustToken is the token of an address's unsubscribe link.
func (f *fixture) mustToken(tb testing.TB, workspaceID, address string) string {
	tb.Helper()
	var token string
	if err := f.db.Get(&token, `SELECT token FROM notify_addresses WHERE workspace_id = $1 AND address = $2`, workspaceID, address); err != nil {
		tb.Fatalf("token of %s: %v", address, err)
	}
	return token
}

// A webhook's page lists its latest notices, newest first: when, which in
// words, and each mail's fate; a delivery that gave up links to its page.
func TestWebhookPageListsNotices(t *testing.T) {
	t.Parallel()
	f, ws, _ := setupSignedIn(t)
	hook := f.mustNotifyingWebhook(t, ws, "https://flaky.example/hook", "ops@example.com", "oncall@example.com", "dev@example.com")
	v, path := f.signedInTo(t, hook)
	ctx := context.Background()

	// Nothing yet: a sentence says what will appear, and where it goes.
	empty := noticesOf(t, v.getOK(t, path))
	empty.wantText(t, "Mailed to", "ops@example.com", "oncall@example.com", "dev@example.com", ": Failing, Will be disabled soon, Disabled, Recovered.",
		"No notice yet. Notices appear here when this webhook starts failing")

	// Failing, told at the first failure and mailed to two: one sent, one
	// waiting to retry.
	f.mustDeliver(t, hook, "post.created", nil, told(answered500Retrying))
	failing := f.lastNotice(t, hook)
	f.mustDispatch(t, failing.ID, "ops@example.com", "oncall@example.com")
	f.mustMail(t, failing.ID, "ops@example.com", repo.MailOutcome{Status: repo.MailSent})
	f.mustMail(t, failing.ID, "oncall@example.com", repo.MailOutcome{Status: repo.MailPending, Error: "relay answered 451 try later",
		NextAttemptAt: time.Now().Add(time.Minute)})
	// A delivery that gave up, whose kind the webhook does not mail: the
	// operator's endpoint listens for it.
	if _, err := f.store.EnsureOperational(ctx, []repo.OperationalEndpoint{{URL: "https://ops.example/", Secret: "whsec_x"}},
		[]string{string(delivery.NoticeExhausted)}); err != nil {
		t.Fatal(err)
	}
	exhausted := told(answered500)
	exhausted.EventType = "post.created"
	gaveUp := f.mustDeliver(t, hook, "post.created", nil, exhausted)
	f.mustDispatch(t, f.lastNotice(t, hook).ID)
	// Recovered by a success: one mail failed for good, and dev@
	// unsubscribed before its mail went out.
	f.mustDeliver(t, hook, "post.created", nil, told(answered200))
	recovered := f.lastNotice(t, hook)
	f.mustDispatch(t, recovered.ID, "ops@example.com", "dev@example.com")
	f.mustMail(t, recovered.ID, "ops@example.com", repo.MailOutcome{Status: repo.MailFailed, Error: "relay refused the recipient"})
	if _, err := f.store.Unsubscribe(ctx, f.mustToken(t, ws, "dev@example.com")); err != nil {
		t.Fatal(err)
	}
	// Decided, not yet dispatched.
	f.mustDeliver(t, hook, "post.created", nil, told(answered500Retrying))

	section := noticesOf(t, v.getOK(t, path))
	rows := noticeRows(section)
	if len(rows) != 4 {
		t.Fatalf("%d notices listed, want 4:\n%s", len(rows), section.Body)
	}
	tests := []struct {
		name string
		row  page
		want []string
	}{
		{"not dispatched yet", rows[0], []string{"Failing", "1 failed attempt in a row; the last answered 500.", "being sent"}},
		{"recovered", rows[1], []string{"Recovered", "After 2 failed attempts in a row.",
			"ops@example.com", "Failed", "relay refused the recipient", "dev@example.com", "Not sent", "the address unsubscribed"}},
		{"a delivery gave up", rows[2], []string{"A delivery gave up", "post.created gave up after 1 attempt; the last answered 500.",
			"Open the delivery", "not mailed: no address gets this kind of notice"}},
		{"failing", rows[3], []string{"Failing", "ops@example.com", "Sent", "oncall@example.com", "Waiting to retry",
			"1 attempt failed: relay answered 451 try later"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.row.wantText(t, tt.want...)
			if t.Failed() {
				t.Logf("row:\n%s", tt.row.Body)
			}
		})
	}
	rows[2].wantHTML(t, `<a class="small block" href="/dashboard/deliveries/`+gaveUp+`">Open the delivery</a>`)
	// Unsubscribed, dev@ is no longer among the addresses.
	section.wantText(t, "Mailed to")
	if strings.Contains(section.Body[:strings.Index(section.Body, "<table")], "dev@example.com") {
		t.Error("the page says notices are mailed to an address that unsubscribed")
	}
}

// A webhook without an address says its notices are only listed; one with
// no notice ticked says none is mailed.
func TestWebhookPageSaysWhereNoticesGo(t *testing.T) {
	t.Parallel()
	f, ws, v := setupSignedIn(t)
	quiet := f.mustWebhook(t, ws, "https://quiet.example/", "post.created")
	noneTicked := testfactory.Webhook(t, f.store, ws, repo.NewWebhook{URL: "https://none.example/", Events: []string{"post.created"}, Active: true,
		NotifyEmails: []string{"ops@example.com"}, NotifyOn: []string{}})
	noticesOf(t, v.getOK(t, "/dashboard/webhooks/"+quiet.ID)).wantText(t, "No notification address: notices are only listed here.")
	noticesOf(t, v.getOK(t, "/dashboard/webhooks/"+noneTicked.ID)).wantText(t, "ops@example.com", "but no notice is ticked, so none is mailed.")
}

// lastNotice is the newest notice about the webhook.
func (f *fixture) lastNotice(tb testing.TB, hook repo.Webhook) repo.Notice {
	tb.Helper()
	ns, err := f.store.WebhookNotices(context.Background(), hook.WorkspaceID, hook.ID, 1)
	if err != nil || len(ns) == 0 {
		tb.Fatalf("WebhookNotices = %v, %v", ns, err)
	}
	return ns[0]
}
