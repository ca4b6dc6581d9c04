package manage_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/repo"
)

// failTold records a failed attempt of a new delivery to the fixture's
// first webhook under a policy that tells on the first failure, and
// returns the notices it decided.
func (f *fixture) failTold(tb testing.TB, disable string) []string {
	tb.Helper()
	id := testfactory.Delivery(tb, f.store, repo.NewEvent{WorkspaceID: f.ws.ID, Type: "comment.created"}, "")
	return testfactory.Record(tb, f.store, repo.AttemptResult{
		DeliveryID: id, Attempt: 1, StatusCode: 410, Error: "receiver answered 410", At: time.Now(),
		NewStatus: delivery.StatusFailed, DisableReason: disable, Notices: delivery.NoticePolicy{FailingAfter: 1},
	}).Notices
}

// Re-enabling a webhook after a told streak records webhook.recovered and
// hands it to the workers.
func TestUpdateWebhookDispatchesRecovered(t *testing.T) {
	t.Parallel()
	f := setup(t)
	hook := testfactory.Webhook(t, f.store, f.ws.ID, repo.NewWebhook{Events: []string{"comment.created"}, Active: true})
	f.hooks = []repo.Webhook{hook}
	if got := f.failTold(t, delivery.DisabledGone); len(got) != 1 {
		t.Fatalf("a 410 on the last attempt decided %v; want webhook.disabled (delivery.exhausted has no listener)", got)
	}
	ctx := context.Background()
	up, err := f.svc.UpdateWebhook(ctx, f.ws.ID, hook.ID, manage.WebhookInput{Active: new(true)})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := f.store.WebhookNotices(ctx, f.ws.ID, hook.ID, 1)
	if err != nil || len(ns) != 1 || ns[0].Kind != delivery.NoticeRecovered {
		t.Fatalf("latest notice = %+v, %v; want webhook.recovered", ns, err)
	}
	if got := f.enq.Notices(); !cmp.Equal(got, []string{ns[0].ID}) {
		t.Errorf("notices enqueued %v; want the recovered one %s", got, ns[0].ID)
	}
	if up.Webhook.NoticeStage != delivery.StageClear {
		t.Errorf("stage after re-enabling = %q", up.Webhook.NoticeStage)
	}
}

// PublishNotice publishes to the operational webhooks once, with the
// customer's workspace in the envelope; without them it publishes nothing.
func TestPublishNotice(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	n := repo.Notice{ID: "01a252f8-29cc-76eb-a3b0-6fb8154f89e9", WorkspaceID: f.ws.ID, WebhookID: f.hooks[0].ID, Kind: delivery.NoticeFailing,
		Figures: delivery.Figures{Webhook: delivery.NoticeWebhook{ID: f.hooks[0].ID, URL: f.hooks[0].URL}, State: "failing", ConsecutiveFailures: 5}}
	if err := f.svc.PublishNotice(ctx, n); err != nil {
		t.Fatal(err)
	}
	if c := f.mustCount(t, `SELECT count(*) FROM events`); c != 0 {
		t.Fatalf("without operational webhooks: %d events stored", c)
	}

	ops, err := f.store.EnsureOperational(ctx, []repo.OperationalEndpoint{{URL: "https://ops.example/", Secret: "whsec_x"}}, []string{string(delivery.NoticeFailing)})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // a dispatch run twice publishes once
		if err := f.svc.PublishNotice(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	f.svc.Wait()
	var evs []struct {
		Workspace string `db:"workspace_id"`
		Body      []byte `db:"body"`
	}
	if err := f.db.Select(&evs, `SELECT workspace_id::text AS workspace_id, body FROM events`); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Workspace != ops {
		t.Fatalf("events %+v; want one in the operational workspace %s", evs, ops)
	}
	var body struct {
		Type        string           `json:"type"`
		WorkspaceID string           `json:"workspace_id"`
		Data        delivery.Figures `json:"data"`
	}
	if err := json.Unmarshal(evs[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Type != "webhook.failing" || body.WorkspaceID != f.ws.ID || body.Data.ConsecutiveFailures != 5 || body.Data.Webhook.ID != f.hooks[0].ID {
		t.Errorf("operational event body %s", evs[0].Body)
	}
	if got := len(f.enq.Enqueued()); got != 1 {
		t.Errorf("%d deliveries enqueued; want the operational one", got)
	}
}

func (f *fixture) mustCount(tb testing.TB, query string) int {
	tb.Helper()
	var n int
	if err := f.db.Get(&n, query); err != nil {
		tb.Fatal(err)
	}
	return n
}
