package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/repo"
)

// eventIDs lists the event ids of deliveries, in order.
func eventIDs(ds []client.Delivery) []string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.EventID
	}
	return ids
}

func TestDeliveries(t *testing.T) {
	t.Parallel()
	a, c, rec, hook := setupWithHook(t, "post.created", "comment.created")
	ctx := context.Background()
	var events []string // oldest first
	for _, e := range []struct {
		typ  string
		data any
	}{{"post.created", postCreated}, {"comment.created", commentCreated}, {"post.created", postCreated}} {
		events = append(events, mustPublish(t, c, e.typ, e.data).ID)
	}

	page, err := c.ListDeliveries(ctx, hook.ID, client.DeliveryFilter{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, rec.last(t).Body, client.DeliveryPage{})
	wantFields(t, first(t, member(t, rec.last(t).Body, "data")), client.Delivery{})
	if diff := cmp.Diff([]string{events[2], events[1]}, eventIDs(page.Data)); diff != "" || page.NextCursor == "" {
		t.Errorf("first page (-want +got):\n%s\nnext cursor %q", diff, page.NextCursor)
	}
	older, err := c.ListDeliveries(ctx, hook.ID, client.DeliveryFilter{Limit: 2, Cursor: page.NextCursor})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{events[0]}, eventIDs(older.Data)); diff != "" || older.NextCursor != "" {
		t.Errorf("last page (-want +got):\n%s\nnext cursor %q", diff, older.NextCursor)
	}
	oldest := older.Data[0]

	a.mustRecordAttempt(t, repo.AttemptResult{DeliveryID: oldest.ID, Attempt: 1, StatusCode: 200, ResponseBody: []byte(`{"ok":true}`),
		ResponseHeaders: map[string]string{"Content-Type": "application/json"}, RequestHeaders: map[string]string{"Webhook-Id": "msg_1"},
		Duration: 40 * time.Millisecond, Succeeded: true, NewStatus: delivery.StatusSucceeded})
	filters := []struct {
		filter client.DeliveryFilter
		want   []string
	}{
		{client.DeliveryFilter{EventType: "comment.created"}, []string{events[1]}},
		{client.DeliveryFilter{Status: client.DeliverySucceeded}, []string{events[0]}},
		{client.DeliveryFilter{Status: client.DeliveryPending}, []string{events[2], events[1]}},
		{client.DeliveryFilter{Status: client.DeliveryPending, EventType: "post.created"}, []string{events[2]}},
		{client.DeliveryFilter{Status: client.DeliveryFailed}, []string{}},
	}
	for _, f := range filters {
		page, err := c.ListDeliveries(ctx, hook.ID, f.filter)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(f.want, eventIDs(page.Data)); diff != "" {
			t.Errorf("%+v (-want +got):\n%s", f.filter, diff)
		}
	}
	_, err = c.ListDeliveries(ctx, hook.ID, client.DeliveryFilter{Limit: 101})
	wantError(t, err, client.Error{Status: 422, Code: client.CodeValidationFailed, Field: "limit"})

	detail, err := c.GetDelivery(ctx, oldest.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, rec.last(t).Body, client.DeliveryDetail{})
	wantFields(t, first(t, member(t, rec.last(t).Body, "attempts")), client.Attempt{})
	wantAttempt := client.Attempt{Attempt: 1, StatusCode: new(200), ResponseBody: `{"ok":true}`,
		ResponseHeaders: map[string]string{"Content-Type": "application/json"}, RequestHeaders: map[string]string{"Webhook-Id": "msg_1"},
		DurationMS: 40, CreatedAt: detail.Attempts[0].CreatedAt}
	if diff := cmp.Diff([]client.Attempt{wantAttempt}, detail.Attempts); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
	if detail.Delivery.Attempts != 1 || detail.AttemptCount != 1 || detail.Status != client.DeliverySucceeded || *detail.StatusCode != 200 {
		t.Errorf("delivery %+v, want succeeded after 1 attempt", detail.Delivery)
	}

	again, err := c.Redeliver(ctx, oldest.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, rec.last(t).Body, client.Delivery{})
	if again.ID == oldest.ID || again.EventID != oldest.EventID || again.RedeliveryOf == nil || *again.RedeliveryOf != oldest.ID || again.Status != client.DeliveryPending {
		t.Errorf("redelivery %+v, want a new pending delivery of the same event", again)
	}
}

// TestAllDeliveries walks every page, and stops when the loop does.
func TestAllDeliveries(t *testing.T) {
	t.Parallel()
	_, c, rec, hook := setupWithHook(t, "post.created")
	ctx := context.Background()
	var want []string
	for range 5 {
		want = append([]string{mustPublish(t, c, "post.created", postCreated).ID}, want...)
	}
	var got []string
	for d, err := range c.AllDeliveries(ctx, hook.ID, client.DeliveryFilter{Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d.EventID)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("all deliveries (-want +got):\n%s", diff)
	}

	before := len(rec.all())
	for range c.AllDeliveries(ctx, hook.ID, client.DeliveryFilter{Limit: 2}) {
		break
	}
	if n := len(rec.all()) - before; n != 1 {
		t.Errorf("stopping at the first delivery made %d requests, want 1", n)
	}
	var errs []error
	for _, err := range c.AllDeliveries(ctx, hook.ID, client.DeliveryFilter{Limit: 500}) {
		errs = append(errs, err)
	}
	if len(errs) != 1 || errs[0] == nil {
		t.Errorf("a refused page yielded %v, want its error once", errs)
	}
}

// TestRecover: re-enabling a webhook disabled by a 410 offers the window
// of its failures, and Recover sends them again.
func TestRecover(t *testing.T) {
	t.Parallel()
	a, c, rec, hook := setupWithHook(t, "post.created")
	ctx := context.Background()
	ev := mustPublish(t, c, "post.created", postCreated)
	page, err := c.ListDeliveries(ctx, hook.ID, client.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	gone := page.Data[0].ID
	a.mustRecordAttempt(t, repo.AttemptResult{DeliveryID: gone, Attempt: 1, StatusCode: 410, Error: "HTTP 410",
		NewStatus: delivery.StatusFailed, DisableReason: "gone"})
	if h, err := c.GetWebhook(ctx, hook.ID); err != nil || h.Active || h.DisabledReason == nil || *h.DisabledReason != "gone" || h.DisabledAt == nil {
		t.Fatalf("webhook %+v, %v; want it disabled as gone", h, err)
	}

	enabled, err := c.UpdateWebhook(ctx, hook.ID, client.UpdateWebhookParams{Active: new(true)})
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, rec.last(t).Body, client.Webhook{}, "secret")
	wantFields(t, member(t, rec.last(t).Body, "recovery"), client.RecoveryOffer{})
	if !enabled.Active || enabled.Recovery == nil || enabled.Recovery.FailedDeliveries != 1 {
		t.Fatalf("re-enabled %+v with offer %+v, want active with 1 failed delivery offered", enabled, enabled.Recovery)
	}

	win := client.RecoverParams{Since: enabled.Recovery.Since, Until: enabled.Recovery.Until}
	dry := win
	dry.DryRun = true
	counted, err := c.Recover(ctx, hook.ID, dry)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, rec.last(t).Body, client.RecoverResult{})
	if counted.Deliveries != 1 || !counted.DryRun || !counted.Since.Equal(win.Since) || !counted.Until.Equal(win.Until) {
		t.Errorf("dry run %+v, want 1 counted in the offered window", counted)
	}
	done, err := c.Recover(ctx, hook.ID, win)
	if err != nil {
		t.Fatal(err)
	}
	if done.Deliveries != 1 || done.DryRun {
		t.Errorf("recovery %+v, want 1 sent again", done)
	}
	page, err = c.ListDeliveries(ctx, hook.ID, client.DeliveryFilter{Status: client.DeliveryPending})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 1 || page.Data[0].EventID != ev.ID || page.Data[0].RedeliveryOf == nil || *page.Data[0].RedeliveryOf != gone {
		t.Errorf("pending after recovery: %+v, want the redelivery of %s", page.Data, gone)
	}

	_, err = c.Recover(ctx, hook.ID, client.RecoverParams{Since: time.Now().Add(-15 * 24 * time.Hour)})
	wantError(t, err, client.Error{Status: 422, Code: client.CodeValidationFailed, Field: "since"})
}
