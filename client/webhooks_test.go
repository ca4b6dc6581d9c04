package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/repo"
)

// TestWebhooks: create, list, get, update and delete against the api, each
// answer decoded whole.
func TestWebhooks(t *testing.T) {
	t.Parallel()
	_, c, rec := setup(t)
	ctx := context.Background()

	created, err := c.CreateWebhook(ctx, client.CreateWebhookParams{
		URL: "https://hooks.acme.example/trackelio", Events: []string{"post.created", "comment.created"}, Description: "CRM sync",
	})
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, rec.last(t).Body, client.Webhook{}, "recovery")
	if created.ID == "" || created.Secret == "" || !created.Active || created.CreatedAt.IsZero() {
		t.Errorf("created %+v, want an active webhook with its id, secret and time", created)
	}
	want := created
	want.Secret = ""

	list, err := c.ListWebhooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, first(t, member(t, rec.last(t).Body, "data")), client.Webhook{}, "secret", "recovery")
	if diff := cmp.Diff([]client.Webhook{want}, list); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	got, err := c.GetWebhook(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("get (-want +got):\n%s", diff)
	}

	updated, err := c.UpdateWebhook(ctx, created.ID, client.UpdateWebhookParams{Events: []string{"post.assigned"}, Active: new(false), Description: new("")})
	if err != nil {
		t.Fatal(err)
	}
	want.Events, want.Active, want.Description = []string{"post.assigned"}, false, ""
	if diff := cmp.Diff(want, updated, cmpopts.IgnoreFields(client.Webhook{}, "UpdatedAt")); diff != "" {
		t.Errorf("updated (-want +got):\n%s", diff)
	}
	// Events given empty are sent, and refused; nil leaves them.
	_, err = c.UpdateWebhook(ctx, created.ID, client.UpdateWebhookParams{Events: []string{}})
	wantError(t, err, client.Error{Status: 422, Code: client.CodeValidationFailed, Field: "events"})
	if got, err := c.UpdateWebhook(ctx, created.ID, client.UpdateWebhookParams{URL: new("https://hooks.acme.example/v2")}); err != nil || !cmp.Equal(got.Events, want.Events) {
		t.Errorf("url update = %+v, %v; want the events left", got, err)
	}

	// Notification addresses: set, and cleared by an empty list while nil
	// leaves them; notify_on emptied mails nothing.
	notified, err := c.UpdateWebhook(ctx, created.ID, client.UpdateWebhookParams{NotifyEmails: []string{"ops@acme.example"}, NotifyOn: []string{}})
	if err != nil || !cmp.Equal(notified.NotifyEmails, []string{"ops@acme.example"}) || notified.NotifyOn == nil || len(notified.NotifyOn) != 0 {
		t.Errorf("notify update = %v, %v, %v; want the address and no notice mailed", notified.NotifyEmails, notified.NotifyOn, err)
	}
	if got, err := c.UpdateWebhook(ctx, created.ID, client.UpdateWebhookParams{Description: new("x")}); err != nil || len(got.NotifyEmails) != 1 {
		t.Errorf("an unrelated update = %v, %v; want the address left", got.NotifyEmails, err)
	}
	_, err = c.UpdateWebhook(ctx, created.ID, client.UpdateWebhookParams{NotifyEmails: []string{"ops@acme.example\r\nBcc: x@evil.example"}})
	wantError(t, err, client.Error{Status: 422, Code: client.CodeValidationFailed, Field: "notify_emails"})

	if err := c.DeleteWebhook(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetWebhook(ctx, created.ID)
	wantError(t, err, client.Error{Status: 404, Code: client.CodeNotFound})
	_, err = c.CreateWebhook(ctx, client.CreateWebhookParams{URL: "ftp://hooks.acme.example", Events: []string{"post.created"}})
	wantError(t, err, client.Error{Status: 422, Code: client.CodeValidationFailed, Field: "url"})
}

func TestWebhookSecrets(t *testing.T) {
	t.Parallel()
	_, c, rec, hook := setupWithHook(t, "post.created")
	ctx := context.Background()
	if secret, err := c.GetWebhookSecret(ctx, hook.ID); err != nil || secret != hook.Secret {
		t.Errorf("GetWebhookSecret = %q, %v; want the secret given on creation", secret, err)
	}

	before := time.Now()
	rot, err := c.RotateWebhookSecret(ctx, hook.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, rec.last(t).Body, client.SecretRotation{})
	if rot.Secret == "" || rot.Secret == hook.Secret {
		t.Errorf("rotated secret %q, want a new one", rot.Secret)
	}
	if d := rot.PreviousSecretExpiresAt.Sub(before); d < time.Hour-time.Second || d > time.Hour+time.Minute {
		t.Errorf("previous secret expires %v from now, want an hour", d)
	}
	if secret, err := c.GetWebhookSecret(ctx, hook.ID); err != nil || secret != rot.Secret {
		t.Errorf("GetWebhookSecret after rotation = %q, %v; want the new secret", secret, err)
	}
	_, err = c.RotateWebhookSecret(ctx, hook.ID, 200*time.Hour)
	wantError(t, err, client.Error{Status: 422, Code: client.CodeValidationFailed, Field: "grace_period"})
}

func TestSendTestEvent(t *testing.T) {
	t.Parallel()
	a, c, rec, hook := setupWithHook(t, "post.created")
	ctx := context.Background()
	// The worker, played here, makes the attempt at once.
	a.enq.Then(func(ctx context.Context, id string) error {
		stored, err := a.store.RecordAttempts(ctx, []repo.AttemptResult{{DeliveryID: id, Attempt: 1, StatusCode: 200, ResponseBody: []byte("ok"),
			Duration: 12 * time.Millisecond, At: time.Now(), Succeeded: true, NewStatus: delivery.StatusSucceeded}})
		if err != nil || !stored[0].Stored {
			t.Errorf("worker RecordAttempts = %+v, %v", stored, err) // not Fatal: this is the api's goroutine
		}
		return nil
	})
	res, err := c.SendTestEvent(ctx, hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, rec.last(t).Body, client.TestResult{})
	want := client.TestResult{DeliveryID: res.DeliveryID, EventID: res.EventID, Status: client.DeliverySucceeded, Succeeded: true,
		StatusCode: new(200), ResponseBody: "ok", DurationMS: 12}
	if diff := cmp.Diff(want, res); diff != "" || res.DeliveryID == "" || res.EventID == "" {
		t.Errorf("test result (-want +got):\n%s", diff)
	}

	// An inactive webhook can be tested too.
	if _, err := c.UpdateWebhook(ctx, hook.ID, client.UpdateWebhookParams{Active: new(false)}); err != nil {
		t.Fatal(err)
	}
	if res, err := c.SendTestEvent(ctx, hook.ID); err != nil || !res.Succeeded {
		t.Errorf("SendTestEvent to an inactive webhook = %+v, %v; want the endpoint's answer", res, err)
	}
}
