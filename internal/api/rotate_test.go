package api_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/testfactory"
)

// mustGetSecret reads a webhook's secret as GET /v1/webhooks/{id}/secret
// answers it.
func (f *fixture) mustGetSecret(tb testing.TB, key, webhookID string) string {
	tb.Helper()
	res := f.call(tb, "GET", "/v1/webhooks/"+webhookID+"/secret", key, "")
	return answerAs[struct {
		Secret string `json:"secret"`
	}](tb, res, http.StatusOK).Secret
}

// mustRotate rotates a webhook's secret with the given body and returns
// the answer.
func (f *fixture) mustRotate(tb testing.TB, key, webhookID, body string) client.SecretRotation {
	tb.Helper()
	return answerAs[client.SecretRotation](tb, f.call(tb, "POST", "/v1/webhooks/"+webhookID+"/rotate-secret", key, body), http.StatusOK)
}

func TestRotateSecret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		body  string
		grace time.Duration
	}{
		{"no body", "", 24 * time.Hour},
		{"default grace period", `{}`, 24 * time.Hour},
		{"null grace period", `{"grace_period":null}`, 24 * time.Hour},
		{"one hour", `{"grace_period":"1h"}`, time.Hour},
		{"the longest", `{"grace_period":"168h"}`, 168 * time.Hour},
		{"minutes and seconds", `{"grace_period":"90m30s"}`, 90*time.Minute + 30*time.Second},
		{"none", `{"grace_period":"0s"}`, 0},
	}
	f := setup(t)
	ws := f.mustCreateWorkspace(t, "Acme")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hook := f.mustCreateHook(t, ws.APIKey, "post.created")
			before := time.Now()
			got := f.mustRotate(t, ws.APIKey, hook.ID, tt.body)
			after := time.Now()

			mustSecret(t, got.Secret)
			if got.Secret == hook.Secret {
				t.Error("rotation kept the old secret")
			}
			if got.PreviousSecretExpiresAt.Before(before.Add(tt.grace)) || got.PreviousSecretExpiresAt.After(after.Add(tt.grace)) {
				t.Errorf("previous_secret_expires_at = %v, want now + %v", got.PreviousSecretExpiresAt, tt.grace)
			}
			if s := f.mustGetSecret(t, ws.APIKey, hook.ID); s != got.Secret {
				t.Errorf("GET secret = %q after rotation, want the new %q", s, got.Secret)
			}
			stored := testfactory.Secrets(t, f.db, hook.ID)
			if stored.Secret != got.Secret || stored.Previous == nil || *stored.Previous != hook.Secret ||
				stored.PreviousExpiry == nil || stored.PreviousExpiry.Sub(got.PreviousSecretExpiresAt).Abs() > time.Microsecond {
				t.Errorf("stored secrets = %+v, want the new secret, the old one as previous until %v", stored, got.PreviousSecretExpiresAt)
			}
		})
	}
}

// TestRotateSecretSigning checks what the worker signs with: the new secret
// at once, and the old one too while the grace period lasts.
func TestRotateSecretSigning(t *testing.T) {
	t.Parallel()
	f, ws, hook := setupWithHook(t, "post.created")
	delivery := f.mustEventDelivery(t, ws.APIKey, "post.created")

	first := f.mustRotate(t, ws.APIKey, hook.ID, `{"grace_period":"1h"}`)
	w := testfactory.Work(t, f.store, delivery)
	if w.Secret != first.Secret || w.PreviousSecret != hook.Secret {
		t.Errorf("worker signs with %q and previous %v, want the new secret and the old one", w.Secret, w.PreviousSecret)
	}

	// Rotating again without a grace period drops the first rotation's
	// secret from signing at once.
	second := f.mustRotate(t, ws.APIKey, hook.ID, `{"grace_period":"0s"}`)
	if second.Secret == first.Secret || second.Secret == hook.Secret {
		t.Error("the second rotation reused a secret")
	}
	w = testfactory.Work(t, f.store, delivery)
	if w.Secret != second.Secret || w.PreviousSecret != "" {
		t.Errorf("worker signs with %q and previous %v, want only the newest secret", w.Secret, w.PreviousSecret)
	}
}

func TestRotateSecretRefusals(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws := f.mustCreateWorkspace(t, "Acme")
	other := f.mustCreateWorkspace(t, "Other")
	hook := f.mustCreateHook(t, ws.APIKey, "post.created")
	theirs := f.mustCreateHook(t, other.APIKey, "post.created")
	deleted := f.mustDeletedHook(t, ws.APIKey)
	path := "/v1/webhooks/" + hook.ID + "/rotate-secret"
	graceInvalid := apiError{Status: http.StatusUnprocessableEntity, Code: "validation_failed", Field: "grace_period"}

	tests := []struct {
		name, key, path, body string
		want                  apiError
	}{
		{"not a duration", ws.APIKey, path, `{"grace_period":"a day"}`, graceInvalid},
		{"a number", ws.APIKey, path, `{"grace_period":86400}`, graceInvalid},
		{"empty", ws.APIKey, path, `{"grace_period":""}`, graceInvalid},
		{"negative", ws.APIKey, path, `{"grace_period":"-1s"}`, graceInvalid},
		{"longer than 7 days", ws.APIKey, path, `{"grace_period":"168h0m1s"}`, graceInvalid},
		{"unitless", ws.APIKey, path, `{"grace_period":"24"}`, graceInvalid},
		{"unknown field", ws.APIKey, path, `{"grace":"1h"}`, apiError{Status: 422, Code: "validation_failed", Field: "grace"}},
		{"not an object", ws.APIKey, path, `"1h"`, apiError{Status: 400, Code: "invalid_json"}},
		{"trailing data", ws.APIKey, path, `{"grace_period":"1h"}{}`, apiError{Status: 400, Code: "invalid_json"}},
		{"unknown webhook", ws.APIKey, "/v1/webhooks/" + uuid.NewString() + "/rotate-secret", `{"grace_period":"1h"}`, apiError{Status: 404, Code: "not_found"}},
		{"not a uuid", ws.APIKey, "/v1/webhooks/nope/rotate-secret", `{"grace_period":"1h"}`, apiError{Status: 404, Code: "not_found"}},
		{"deleted webhook", ws.APIKey, "/v1/webhooks/" + deleted.ID + "/rotate-secret", `{"grace_period":"1h"}`, apiError{Status: 404, Code: "not_found"}},
		{"another workspace's webhook", ws.APIKey, "/v1/webhooks/" + theirs.ID + "/rotate-secret", `{"grace_period":"1h"}`, apiError{Status: 404, Code: "not_found"}},
		{"another workspace's key", other.APIKey, path, "", apiError{Status: 404, Code: "not_found"}},
		{"no key", "", path, "", apiError{Status: 401, Code: "unauthorized"}},
	}
	before := map[string]testfactory.StoredSecrets{hook.ID: testfactory.Secrets(t, f.db, hook.ID), theirs.ID: testfactory.Secrets(t, f.db, theirs.ID)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.call(t, "POST", tt.path, tt.key, tt.body)
			res.wantError(t, tt.want)
			for _, secret := range []string{hook.Secret, theirs.Secret} {
				if strings.Contains(string(res.Body), secret) {
					t.Errorf("answer leaks a secret: %s", res.Body)
				}
			}
		})
	}
	after := map[string]testfactory.StoredSecrets{hook.ID: testfactory.Secrets(t, f.db, hook.ID), theirs.ID: testfactory.Secrets(t, f.db, theirs.ID)}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("refused rotations changed secrets (-before +after):\n%s", diff)
	}
	if s := f.mustGetSecret(t, ws.APIKey, hook.ID); s != hook.Secret {
		t.Errorf("GET secret = %q after refused rotations, want the original", s)
	}
}

// TestRotateSecretChunkedEmptyBody sends no body with chunked transfer
// encoding (no Content-Length), as some clients do: it is the same as none.
func TestRotateSecretChunkedEmptyBody(t *testing.T) {
	t.Parallel()
	f, ws, hook := setupWithHook(t, "post.created")
	r := httptest.NewRequest("POST", "/v1/webhooks/"+hook.ID+"/rotate-secret", io.MultiReader())
	r.ContentLength = -1
	r.Header.Set("Authorization", bearer(ws.APIKey))
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("rotate with an empty chunked body answered %d %s, want 200", w.Code, w.Body)
	}
	if s := f.mustGetSecret(t, ws.APIKey, hook.ID); s == hook.Secret {
		t.Error("the secret did not change")
	}
}
