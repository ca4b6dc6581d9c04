package dashboard_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRevealSecret(t *testing.T) {
	t.Parallel()
	f, _, hook := setupWebhook(t, "https://receiver.example/hook", "post.created")
	v, path := f.signedInTo(t, hook)
	if strings.Contains(v.get(t, path).Body, "dGVzdCBzZWNyZXQ") {
		t.Fatal("the page shows the secret before it is revealed")
	}
	shown := v.post(t, path+"/secret", v.form(t)).wantRedirectTo(t, path+"?shown=trkfl_")
	p := v.getOK(t, shown)
	if got := p.inputValue(t, "current-secret"); got != hook.Secret {
		t.Errorf("revealed %q, want %q", got, hook.Secret)
	}
	// The verification snippet now sets the real secret.
	p.wantText(t, "WEBHOOK_SECRET='"+hook.Secret+"'")
	// Once: a reload, or the link in the history, shows it no more.
	if strings.Contains(v.get(t, shown).Body, hook.Secret) {
		t.Error("the secret shows again on a reload")
	}
}

func TestRotateSecret(t *testing.T) {
	t.Parallel()
	f, ws, hook := setupWebhook(t, "https://receiver.example/hook", "post.created")
	v, path := f.signedInTo(t, hook)

	bad := v.post(t, path+"/rotate-secret", v.form(t, "grace_period", "forever"))
	bad.wantStatus(t, http.StatusUnprocessableEntity)
	bad.wantText(t, "The secret was not rotated: grace_period must be a duration like 24h, from 0s to 168h.")
	if got := f.webhookSnapshot(t, hook.ID); !strings.Contains(got, `"previous_secret":null`) {
		t.Errorf("a refused rotation changed the webhook: %s", got)
	}

	rotated := v.post(t, path+"/rotate-secret", v.form(t, "grace_period", "72h")).wantRedirectTo(t, path+"?shown=trkfl_")
	after, err := f.store.Webhook(t.Context(), ws, hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	p := v.getOK(t, rotated)
	if after.Secret == hook.Secret || p.inputValue(t, "new-secret") != after.Secret {
		t.Errorf("shown %q, stored %q (was %q): want the new secret shown", p.inputValue(t, "new-secret"), after.Secret, hook.Secret)
	}
	var expires time.Time
	if err := f.db.Get(&expires, `SELECT previous_secret_expires_at FROM webhooks WHERE id = $1`, hook.ID); err != nil {
		t.Fatal(err)
	}
	if d := expires.Sub(time.Now()); d < 71*time.Hour || d > 72*time.Hour {
		t.Errorf("previous secret expires in %v, want 72h", d)
	}
	p.wantText(t, "The secret was rotated.", "The previous secret keeps signing")

	// A reload shows the page, not a second rotation, and the grace period
	// stays on it.
	again := v.get(t, rotated)
	again.wantText(t, "The previous secret keeps signing")
	if strings.Contains(again.Body, after.Secret) {
		t.Error("the new secret shows again on a reload")
	}
	if now, err := f.store.Webhook(t.Context(), ws, hook.ID); err != nil || now.Secret != after.Secret {
		t.Errorf("the secret changed after a reload (%v)", err)
	}
}

// Rotating with no grace period breaks receivers that still hold the old
// secret, so it asks first; the page it asks on changes nothing.
func TestRotateSecretWithoutGraceAsksFirst(t *testing.T) {
	t.Parallel()
	f, ws, hook := setupWebhook(t, "https://receiver.example/hook", "post.created")
	v, path := f.signedInTo(t, hook)

	ask := v.post(t, path+"/rotate-secret", v.form(t, "grace_period", "0s"))
	ask.wantStatus(t, http.StatusOK)
	ask.wantText(t, "Rotate the secret with no grace period?", "The old secret stops signing at once")
	ask.wantHTML(t, `<input type="hidden" name="grace_period" value="0s">`, `<input type="hidden" name="confirm" value="yes">`,
		`<a class="button subtle" href="`+path+`#secret">Cancel</a>`)
	if now, err := f.store.Webhook(t.Context(), ws, hook.ID); err != nil || now.Secret != hook.Secret {
		t.Fatalf("asking rotated the secret (%v)", err)
	}
	v.post(t, path+"/rotate-secret", v.form(t, "grace_period", "0s", "confirm", "yes")).wantRedirectTo(t, path+"?shown=trkfl_")
	if now, err := f.store.Webhook(t.Context(), ws, hook.ID); err != nil || now.Secret == hook.Secret || now.PreviousSecretExpiresAt != nil && now.PreviousSecretExpiresAt.After(time.Now()) {
		t.Errorf("a confirmed rotation without grace: secret changed %v, previous valid until %v (%v)", now.Secret != hook.Secret, now.PreviousSecretExpiresAt, err)
	}
}
