package repo_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/repo"
)

// noticePolicy tells after 3 failures over 10 minutes, warns at half of a
// one-hour auto-disable, which needs 5 failures.
var (
	noticePolicy  = delivery.NoticePolicy{FailingAfter: 3, FailingFor: 10 * time.Minute, AtRiskAt: 0.5}
	noticeDisable = delivery.AutoDisable{After: time.Hour, MinFailures: 5}
)

// told is a failure under the notice policy.
func told(r repo.AttemptResult) repo.AttemptResult {
	r.Notices, r.AutoDisable = noticePolicy, noticeDisable
	return r
}

// kinds lists the kinds of a webhook's notices, oldest first.
func (f *fixture) kinds(tb testing.TB, workspaceID, webhookID string) []delivery.Notice {
	tb.Helper()
	ns, err := f.store.WebhookNotices(context.Background(), workspaceID, webhookID, 100)
	if err != nil {
		tb.Fatal(err)
	}
	out := []delivery.Notice{}
	for i := len(ns) - 1; i >= 0; i-- {
		out = append(out, ns[i].Kind)
	}
	return out
}

func (f *fixture) lastNotice(tb testing.TB, workspaceID, webhookID string) repo.Notice {
	tb.Helper()
	ns, err := f.store.WebhookNotices(context.Background(), workspaceID, webhookID, 1)
	if err != nil || len(ns) == 0 {
		tb.Fatalf("WebhookNotices = %v, %v", ns, err)
	}
	return ns[0]
}

func TestNoticesFollowTheStreak(t *testing.T) {
	t.Parallel()
	f := setupHook(t)
	ctx := context.Background()
	t0 := pgTime(time.Now().Add(-2 * time.Hour)).UTC()
	d := f.mustDeliveries(t, 10)
	steps := []struct {
		name   string
		result repo.AttemptResult
		want   []delivery.Notice // every notice so far
	}{
		{"one failure tells nobody", told(failure(d[0], 1, t0)), nil},
		{"three failures within ten minutes tell nobody", told(failure(d[1], 1, t0.Add(9*time.Minute))), nil},
		{"", told(failure(d[2], 1, t0.Add(9*time.Minute+59*time.Second))), nil},
		{"a streak of ten minutes is failing", told(failure(d[3], 1, t0.Add(10*time.Minute))), []delivery.Notice{delivery.NoticeFailing}},
		{"failing again tells nothing", told(failure(d[4], 1, t0.Add(20*time.Minute))), []delivery.Notice{delivery.NoticeFailing}},
		{"half the disable delay is at risk", told(failure(d[5], 1, t0.Add(30*time.Minute))),
			[]delivery.Notice{delivery.NoticeFailing, delivery.NoticeAtRisk}},
		{"the disable delay disables", told(failure(d[6], 1, t0.Add(time.Hour))),
			[]delivery.Notice{delivery.NoticeFailing, delivery.NoticeAtRisk, delivery.NoticeDisabled}},
	}
	for i, s := range steps {
		f.record(t, s.result)
		if diff := cmp.Diff(append([]delivery.Notice{}, s.want...), f.kinds(t, f.ws.ID, f.hook.ID)); diff != "" {
			t.Fatalf("step %d %s: notices (-want +got):\n%s", i, s.name, diff)
		}
	}
	at := t0.Add(time.Hour)
	n := f.lastNotice(t, f.ws.ID, f.hook.ID)
	want := delivery.Figures{
		Webhook: delivery.NoticeWebhook{ID: f.hook.ID, URL: f.hook.URL}, State: "disabled", FailingSince: &t0,
		ConsecutiveFailures: 7, LastFailureAt: &at, LastStatusCode: new(500), LastError: new("receiver answered 500"),
		DisabledReason: new(delivery.DisabledFailing), DisabledAt: &at,
	}
	if diff := cmp.Diff(want, n.Figures); diff != "" {
		t.Errorf("webhook.disabled figures (-want +got):\n%s", diff)
	}

	// Re-enabling clears the streak: recovered, with the streak that ended.
	up, err := f.store.UpdateWebhook(ctx, f.ws.ID, f.hook.ID, repo.WebhookPatch{Active: new(true)})
	if err != nil {
		t.Fatal(err)
	}
	n = f.lastNotice(t, f.ws.ID, f.hook.ID)
	if n.Kind != delivery.NoticeRecovered || len(up.Notices) != 1 || up.Notices[0] != n.ID {
		t.Fatalf("re-enable: notices %v, last %s %s; want webhook.recovered reported", up.Notices, n.Kind, n.ID)
	}
	if n.Figures.State != "healthy" || n.Figures.ConsecutiveFailures != 7 || !n.Figures.FailingSince.Equal(t0) || n.Figures.DisableAt != nil {
		t.Errorf("webhook.recovered figures = %+v; want healthy after 7 failures since %s", n.Figures, t0)
	}
	if up, err = f.store.UpdateWebhook(ctx, f.ws.ID, f.hook.ID, repo.WebhookPatch{Active: new(true)}); err != nil || len(up.Notices) != 0 {
		t.Errorf("enabling an enabled webhook: notices %v, %v; want none", up.Notices, err)
	}

	// A change that does not re-enable decides nothing, even mid-streak.
	f.record(t, told(failure(d[7], 1, pgTime(time.Now()))))
	if up, err := f.store.UpdateWebhook(ctx, f.ws.ID, f.hook.ID, repo.WebhookPatch{Description: new("x")}); err != nil || len(up.Notices) != 0 || up.NoticeStage != delivery.StageClear {
		t.Errorf("editing a failing webhook: notices %v, stage %q, %v; want none", up.Notices, up.NoticeStage, err)
	}

	// A new streak tells again, and a success ends it.
	t1 := pgTime(time.Now()).Add(time.Minute) // after the re-enabling's own time
	for i, at := range []time.Time{t1, t1.Add(5 * time.Minute), t1.Add(11 * time.Minute)} {
		f.record(t, told(failure(d[7], i+2, at)))
	}
	f.record(t, told(success(d[8], 1, t1.Add(12*time.Minute))))
	wantAll := []delivery.Notice{delivery.NoticeFailing, delivery.NoticeAtRisk, delivery.NoticeDisabled, delivery.NoticeRecovered,
		delivery.NoticeFailing, delivery.NoticeRecovered}
	if diff := cmp.Diff(wantAll, f.kinds(t, f.ws.ID, f.hook.ID)); diff != "" {
		t.Errorf("notices (-want +got):\n%s", diff)
	}
	if n := f.lastNotice(t, f.ws.ID, f.hook.ID); n.Figures.ConsecutiveFailures != 4 || n.Figures.LastStatusCode != nil {
		t.Errorf("recovered by a success: figures %+v; want the 4 failures that ended, no status of its own", n.Figures)
	}

	// A streak the owner switches off tells nothing, and re-enabling a
	// webhook whose trouble was never told tells nothing either.
	f.record(t, told(failure(d[9], 1, t1.Add(13*time.Minute))))
	if _, err := f.store.UpdateWebhook(ctx, f.ws.ID, f.hook.ID, repo.WebhookPatch{Active: new(false)}); err != nil {
		t.Fatal(err)
	}
	if up, err := f.store.UpdateWebhook(ctx, f.ws.ID, f.hook.ID, repo.WebhookPatch{Active: new(true)}); err != nil || len(up.Notices) != 0 {
		t.Errorf("re-enabling an untold streak: notices %v, %v; want none", up.Notices, err)
	}
	if got := len(f.kinds(t, f.ws.ID, f.hook.ID)); got != len(wantAll) {
		t.Errorf("%d notices; want still %d", got, len(wantAll))
	}
}

// Two workers racing on one webhook's failures decide its failing notice
// once: the stage is read and written under the row lock of the fold.
func TestNoticeDecidedOnceUnderRace(t *testing.T) {
	t.Parallel()
	f := setup(t)
	policy := delivery.NoticePolicy{FailingAfter: 2}
	for round := range 8 {
		h := f.withHook(t, "race")
		ids := h.mustDeliveries(t, 8)
		at := pgTime(time.Now())
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Go(func() {
				batch := make([]repo.AttemptResult, 4)
				for i := range batch {
					batch[i] = failure(ids[w*4+i], 1, at.Add(time.Duration(i)*time.Millisecond))
					batch[i].Notices = policy
				}
				if _, err := f.store.RecordAttempts(context.Background(), batch); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got := f.kinds(t, h.ws.ID, h.hook.ID); !cmp.Equal(got, []delivery.Notice{delivery.NoticeFailing}) {
			t.Fatalf("round %d: notices %v; want one webhook.failing", round, got)
		}
	}
}

// A delivery that runs out of attempts is a delivery.exhausted notice,
// with the delivery's figures, when someone listens for it: an address
// that mails it, or an operational webhook. Nobody listening, it is only
// in the history.
func TestNoticeExhausted(t *testing.T) {
	t.Parallel()
	f := setupHook(t)
	ctx := context.Background()
	exhaust := func() (repo.Recorded, repo.AttemptResult) {
		ev := newEvent(f.ws.ID, "post.created")
		at := pgTime(time.Now()).UTC()
		r := failure(f.mustDelivery(t, ev), 1, at)
		r.NewStatus, r.StatusCode, r.Error = delivery.StatusFailed, 0, "connection refused"
		r.EventID, r.EventType = ev.ID, ev.Type
		return f.record(t, r), r
	}
	if rec, _ := exhaust(); len(rec.Notices) != 0 {
		t.Errorf("nobody listening: notices %v", rec.Notices)
	}
	listeners := []struct {
		name  string
		setup func()
	}{
		{"an address that mails it", func() {
			if _, err := f.store.UpdateWebhook(ctx, f.ws.ID, f.hook.ID, repo.WebhookPatch{NotifyEmails: []string{"ops@acme.example"},
				NotifyOn: []string{string(delivery.NoticeExhausted)}}); err != nil {
				t.Fatal(err)
			}
		}},
		{"an operational webhook", func() {
			if _, err := f.store.UpdateWebhook(ctx, f.ws.ID, f.hook.ID, repo.WebhookPatch{NotifyEmails: []string{}}); err != nil {
				t.Fatal(err)
			}
			f.ensureOperational(t, repo.OperationalEndpoint{URL: "https://ops.example/", Secret: "whsec_x"})
		}},
	}
	for _, l := range listeners {
		l.setup()
		rec, r := exhaust()
		n := f.lastNotice(t, f.ws.ID, f.hook.ID)
		if len(rec.Notices) != 1 || rec.Notices[0] != n.ID || n.Kind != delivery.NoticeExhausted {
			t.Fatalf("%s: Recorded.Notices = %v, last notice %s %s; want delivery.exhausted reported", l.name, rec.Notices, n.Kind, n.ID)
		}
		want := &delivery.NoticeDelivery{ID: r.DeliveryID, EventID: r.EventID, EventType: "post.created", Attempts: 1,
			LastError: new("connection refused"), FinishedAt: r.At}
		if diff := cmp.Diff(want, n.Figures.Delivery); diff != "" {
			t.Errorf("%s: delivery.exhausted delivery (-want +got):\n%s", l.name, diff)
		}
		if n.Figures.NextAttemptAt != nil || n.Figures.LastStatusCode != nil {
			t.Errorf("%s: figures %+v: a delivery without attempts left has no next attempt, and no response had no status", l.name, n.Figures)
		}
	}
}

// ensureOperational configures the operational endpoints and returns the
// operational workspace's live webhooks by URL.
func (f *fixture) ensureOperational(tb testing.TB, endpoints ...repo.OperationalEndpoint) (string, map[string]repo.Webhook) {
	tb.Helper()
	ctx := context.Background()
	ws, err := f.store.EnsureOperational(ctx, endpoints, []string{string(delivery.NoticeFailing), string(delivery.NoticeExhausted)})
	if err != nil {
		tb.Fatal(err)
	}
	hooks, err := f.store.Webhooks(ctx, ws)
	if err != nil {
		tb.Fatal(err)
	}
	byURL := map[string]repo.Webhook{}
	for _, h := range hooks {
		byURL[h.URL] = h
	}
	return ws, byURL
}

func TestEnsureOperational(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	if _, ok, err := f.store.OperationalWorkspace(ctx); ok || err != nil {
		t.Fatalf("OperationalWorkspace before any = %v, %v", ok, err)
	}
	a, b := repo.OperationalEndpoint{URL: "https://ops.example/a", Secret: "whsec_a"}, repo.OperationalEndpoint{URL: "https://ops.example/b", Secret: "whsec_b"}
	ws, hooks := f.ensureOperational(t, a, b)
	if len(hooks) != 2 || hooks[a.URL].Secret != a.Secret || !hooks[b.URL].Active || len(hooks[b.URL].Events) != 2 {
		t.Fatalf("operational webhooks = %+v", hooks)
	}
	if id, ok, err := f.store.OperationalWorkspace(ctx); id != ws || !ok || err != nil {
		t.Fatalf("OperationalWorkspace = %q, %v, %v; want %q", id, ok, err, ws)
	}
	// Again, with b's secret changed and a gone: same workspace, b keeps
	// its id and signs with its old secret beside the new one for a day.
	b2 := repo.OperationalEndpoint{URL: b.URL, Secret: "whsec_b2"}
	ws2, hooks2 := f.ensureOperational(t, b2)
	if ws2 != ws || len(hooks2) != 1 || hooks2[b.URL].ID != hooks[b.URL].ID || hooks2[b.URL].Secret != "whsec_b2" {
		t.Fatalf("after a change: workspace %s, webhooks %+v", ws2, hooks2)
	}
	if exp := hooks2[b.URL].PreviousSecretExpiresAt; exp == nil || time.Until(*exp) < 23*time.Hour {
		t.Errorf("previous secret expires %v; want in a day", exp)
	}
	if _, none := f.ensureOperational(t); len(none) != 0 {
		t.Errorf("no endpoints left %d webhooks", len(none))
	}
}

// The operator's endpoint never produces notices, never about its own
// deliveries either, and is never disabled.
func TestOperationalWebhookTellsNothing(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws, hooks := f.ensureOperational(t, repo.OperationalEndpoint{URL: "https://ops.example/", Secret: "whsec_x"})
	hook := hooks["https://ops.example/"]
	at := pgTime(time.Now().Add(-time.Hour))
	for i := range 6 {
		ev := newEvent(ws, string(delivery.NoticeFailing))
		id := f.mustDelivery(t, ev)
		r := told(failure(id, 1, at.Add(time.Duration(i)*20*time.Minute)))
		r.NewStatus, r.StatusCode, r.DisableReason = delivery.StatusFailed, 410, delivery.DisabledGone
		if rec := f.record(t, r); rec.Disabled || len(rec.Notices) != 0 {
			t.Fatalf("attempt %d: %+v; want nothing disabled, no notice", i, rec)
		}
	}
	if h := f.health(t, hook.ID); !h.Active || h.ConsecutiveFailures != 6 {
		t.Errorf("operational webhook health %+v; want active with 6 failures counted", h)
	}
	if n := f.mustCount(t, `SELECT count(*) FROM webhook_notices`); n != 0 {
		t.Errorf("%d notices stored", n)
	}
}

// Mails: queued once per notice and address still subscribed, claimed
// by address, hidden while claimed, and stopped by unsubscribing.
func TestNoticeMails(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	ws := f.mustWorkspace(t, "acme")
	a := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true, NotifyEmails: []string{"ops@acme.example", "dev@acme.example"}})
	b := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"comment.created"}, Active: true, NotifyEmails: []string{"ops@acme.example"},
		NotifyOn: []string{string(delivery.NoticeDisabled)}})
	if got := a.NotifyOn; !cmp.Equal(got, []string{"webhook.failing", "webhook.at_risk", "webhook.disabled", "webhook.recovered"}) {
		t.Errorf("default NotifyOn = %v", got)
	}
	now := pgTime(time.Now())
	var ids []string
	for _, typ := range []string{"post.created", "comment.created"} {
		r := failure(f.mustDelivery(t, newEvent(ws.ID, typ)), 1, now)
		r.Notices = delivery.NoticePolicy{FailingAfter: 1}
		ids = append(ids, f.record(t, r).Notices...)
	}
	if len(ids) != 2 {
		t.Fatalf("notices %v; want one per webhook", ids)
	}
	for _, id := range ids {
		d, err := f.store.NoticeToDispatch(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if d.WebhookID == b.ID && len(d.Mail) != 0 {
			t.Errorf("webhook b mails only webhook.disabled; mail %v for %s", d.Mail, d.Kind)
		}
		for range 2 { // twice: a dispatch run again queues nothing more
			if err := f.store.MarkNoticeDispatched(ctx, id, append(d.Mail, "stranger@evil.example"), now); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := f.mustCount(t, `SELECT count(*) FROM notice_mails`); n != 2 {
		t.Fatalf("%d mails queued; want 2 (a's to its two addresses, none to an address never listed)", n)
	}
	if undispatched, err := f.store.UndispatchedNotices(ctx, now.Add(time.Hour), 10); err != nil || len(undispatched) != 0 {
		t.Errorf("UndispatchedNotices = %v, %v", undispatched, err)
	}

	mails, err := f.store.ClaimMails(ctx, ws.ID, now, time.Minute)
	if err != nil || len(mails) != 2 {
		t.Fatalf("ClaimMails = %d mails, %v; want one per address", len(mails), err)
	}
	if again, err := f.store.ClaimMails(ctx, ws.ID, now, time.Minute); err != nil || len(again) != 0 {
		t.Errorf("claimed twice: %d mails, %v", len(again), err)
	}
	if due, err := f.store.WorkspacesWithDueMail(ctx, now.Add(2*time.Minute), 10); err != nil || !cmp.Equal(due, []string{ws.ID}) {
		t.Errorf("after the lease: WorkspacesWithDueMail = %v, %v", due, err)
	}
	var dev, ops repo.Mail
	for _, m := range mails {
		if m.Address == "dev@acme.example" {
			dev = m
		} else {
			ops = m
		}
	}
	if err := f.store.RecordMail(ctx, dev, repo.MailOutcome{Status: repo.MailSent, At: now}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.RecordMail(ctx, ops, repo.MailOutcome{Status: repo.MailPending, Error: "451 try later", At: now, NextAttemptAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}

	// Unsubscribing works once, takes the address off both webhooks and
	// drops the mail waiting for it.
	sub, err := f.store.Unsubscribe(ctx, ops.UnsubscribeToken)
	if err != nil || sub.Address != "ops@acme.example" || sub.WorkspaceID != ws.ID {
		t.Fatalf("Unsubscribe = %+v, %v", sub, err)
	}
	if _, err := f.store.Unsubscribe(ctx, ops.UnsubscribeToken); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("second Unsubscribe: %v; want ErrNotFound", err)
	}
	for _, h := range []repo.Webhook{a, b} {
		got, err := f.store.Webhook(ctx, ws.ID, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range got.NotifyEmails {
			if e == "ops@acme.example" {
				t.Errorf("webhook %s still lists the unsubscribed address", h.ID)
			}
		}
	}
	ms, err := f.store.NoticeMails(ctx, ws.ID, ids)
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]repo.MailStatus{}
	for _, m := range ms {
		status[m.Address] = m.Status
	}
	if diff := cmp.Diff(map[string]repo.MailStatus{"dev@acme.example": repo.MailSent, "ops@acme.example": repo.MailDropped}, status); diff != "" {
		t.Errorf("mail statuses (-want +got):\n%s", diff)
	}
}

// Retention deletes old notices and their mails once dispatched and sent,
// and keeps the ones not dispatched or whose mail still waits.
func TestRetentionDeletesOldNotices(t *testing.T) {
	t.Parallel()
	f := setupHook(t)
	ctx := context.Background()
	if _, err := f.store.UpdateWebhook(ctx, f.ws.ID, f.hook.ID, repo.WebhookPatch{NotifyEmails: []string{"ops@acme.example"},
		NotifyOn: []string{string(delivery.NoticeExhausted)}}); err != nil {
		t.Fatal(err)
	}
	old := pgTime(time.Now().Add(-40 * 24 * time.Hour))
	var ids []string
	for i := range 4 {
		r := failure(f.mustDeliveries(t, 1)[0], 1, old.Add(time.Duration(i)*time.Minute))
		r.NewStatus = delivery.StatusFailed // each a delivery.exhausted
		ids = append(ids, f.record(t, r).Notices...)
	}
	if len(ids) != 4 {
		t.Fatalf("%d notices; want 4", len(ids))
	}
	// 0: dispatched, mail sent; 1: dispatched, mail pending; 2: dispatched
	// without mail; 3: never dispatched.
	for _, id := range ids[:3] {
		mail := []string{"ops@acme.example"}
		if id == ids[2] {
			mail = nil
		}
		if err := f.store.MarkNoticeDispatched(ctx, id, mail, old); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.db.Exec(`UPDATE notice_mails SET status = 'sent' WHERE notice_id = $1`, ids[0]); err != nil {
		t.Fatal(err)
	}
	got, err := f.store.DeleteExpired(ctx, repo.Retention{Before: time.Now().Add(-30 * 24 * time.Hour), BatchSize: 1})
	if err != nil || got.Notices != 2 {
		t.Fatalf("DeleteExpired = %+v, %v; want 2 notices deleted", got, err)
	}
	var left []string
	if err := f.db.Select(&left, `SELECT id::text FROM webhook_notices ORDER BY created_at`); err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(left, []string{ids[1], ids[3]}) {
		t.Errorf("notices left %v; want the one with mail waiting and the undispatched one %v", left, []string{ids[1], ids[3]})
	}
	if n := f.mustCount(t, `SELECT count(*) FROM notice_mails`); n != 1 {
		t.Errorf("%d mails left; want the pending one", n)
	}
}
