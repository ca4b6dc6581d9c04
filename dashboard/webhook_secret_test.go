package dashboard_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRevealSecret(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws, _ := f.mustWorkspace(t, "Acme")
	hook := f.mustWebhook(t, ws, "https://receiver.example/hook", "post.created")
	v := f.signedIn(t, ws)
	path := "/dashboard/webhooks/" + hook.ID
	if strings.Contains(v.get(t, path).Body, "dGVzdCBzZWNyZXQ") {
		t.Fatal("the page shows the secret before it is revealed")
	}
	p := v.post(t, path+"/secret", v.form(t))
	p.wantStatus(t, http.StatusOK)
	if got := p.inputValue(t, "current-secret"); got != hook.Secret {
		t.Errorf("revealed %q, want %q", got, hook.Secret)
	}
	// The verification snippet now sets the real secret.
	p.wantText(t, "WEBHOOK_SECRET='"+hook.Secret+"'")
}

func TestRotateSecret(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws, _ := f.mustWorkspace(t, "Acme")
	hook := f.mustWebhook(t, ws, "https://receiver.example/hook", "post.created")
	v := f.signedIn(t, ws)
	path := "/dashboard/webhooks/" + hook.ID

	bad := v.post(t, path+"/rotate-secret", v.form(t, "grace_period", "forever"))
	bad.wantStatus(t, http.StatusUnprocessableEntity)
	bad.wantText(t, "The secret was not rotated: grace_period must be a duration like 24h, from 0s to 168h.")
	if got := f.webhookSnapshot(t, hook.ID); !strings.Contains(got, `"previous_secret":null`) {
		t.Errorf("a refused rotation changed the webhook: %s", got)
	}

	p := v.post(t, path+"/rotate-secret", v.form(t, "grace_period", "72h"))
	p.wantStatus(t, http.StatusOK)
	after, err := f.store.Webhook(t.Context(), ws, hook.ID)
	if err != nil {
		t.Fatal(err)
	}
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
}
