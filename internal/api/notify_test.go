package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The notification addresses and notices of a webhook: set on creation,
// changed and cleared by PATCH, refused with the field named and nothing
// stored.
func TestWebhookNotifyFields(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws := f.mustCreateWorkspace(t, "Acme")

	plain := f.mustCreateHook(t, ws.APIKey, "post.created")
	if plain.NotifyEmails == nil || len(plain.NotifyEmails) != 0 || plain.NoticeStage != nil {
		t.Errorf("a new webhook: notify_emails %v, notice_stage %v; want [] and null", plain.NotifyEmails, plain.NoticeStage)
	}
	if !cmp.Equal(plain.NotifyOn, defaultNotifyOn) {
		t.Errorf("default notify_on = %v; want %v", plain.NotifyOn, defaultNotifyOn)
	}

	hook := f.mustCreateWebhook(t, ws.APIKey, map[string]any{
		"url": "https://receiver.example/", "events": []string{"post.created"},
		"notify_emails": []string{"Ops@Acme.example"}, "notify_on": []string{"webhook.disabled", "delivery.exhausted"},
	})
	if !cmp.Equal(hook.NotifyEmails, []string{"ops@acme.example"}) || !cmp.Equal(hook.NotifyOn, []string{"webhook.disabled", "delivery.exhausted"}) {
		t.Errorf("created: notify_emails %v, notify_on %v", hook.NotifyEmails, hook.NotifyOn)
	}
	res := f.call(t, "PATCH", "/v1/webhooks/"+hook.ID, ws.APIKey, `{"notify_emails":["a@acme.example","b@acme.example"]}`)
	res.wantStatus(t, http.StatusOK)
	if got := f.mustGetWebhook(t, ws.APIKey, hook.ID); !cmp.Equal(got.NotifyEmails, []string{"a@acme.example", "b@acme.example"}) ||
		!cmp.Equal(got.NotifyOn, hook.NotifyOn) {
		t.Errorf("after PATCH of the addresses: %v, %v; notify_on must stay", got.NotifyEmails, got.NotifyOn)
	}
	f.call(t, "PATCH", "/v1/webhooks/"+hook.ID, ws.APIKey, `{"notify_emails":[],"notify_on":[]}`).wantStatus(t, http.StatusOK)
	if got := f.mustGetWebhook(t, ws.APIKey, hook.ID); len(got.NotifyEmails) != 0 || len(got.NotifyOn) != 0 {
		t.Errorf("after clearing: %v, %v", got.NotifyEmails, got.NotifyOn)
	}

	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = `"ops` + strings.Repeat("x", i) + `@acme.example"`
	}
	refused := []struct{ name, body, field string }{
		{"too many", `{"notify_emails":[` + strings.Join(eleven, ",") + `]}`, "notify_emails"},
		{"CRLF in an address", `{"notify_emails":["ops@acme.example\r\nBcc: all@evil.example"]}`, "notify_emails"},
		{"CRLF in a display name", `{"notify_emails":["Ops\r\nBcc: all@evil.example <ops@acme.example>"]}`, "notify_emails"},
		{"not an address", `{"notify_emails":["ops"]}`, "notify_emails"},
		{"not a list", `{"notify_emails":"ops@acme.example"}`, ""},
		{"unknown notice", `{"notify_on":["webhook.on_fire"]}`, "notify_on"},
		{"an operational type is no subscription", `{"events":["webhook.failing"]}`, "events"},
	}
	for _, r := range refused {
		t.Run(r.name, func(t *testing.T) {
			before := f.footprint(t)
			res := f.call(t, "PATCH", "/v1/webhooks/"+hook.ID, ws.APIKey, r.body)
			if res.Status != http.StatusUnprocessableEntity && res.Status != http.StatusBadRequest {
				t.Fatalf("status %d; want 4xx: %s", res.Status, res.Body)
			}
			if r.field != "" {
				res.wantError(t, apiError{Status: http.StatusUnprocessableEntity, Code: "validation_failed", Field: r.field})
			}
			f.wantNoFootprint(t, before, r.name)
			create := f.call(t, "POST", "/v1/webhooks", ws.APIKey, `{"url":"https://r.example/","events":["post.created"],`+strings.TrimPrefix(r.body, "{"))
			if create.Status/100 != 4 {
				t.Errorf("POST with %s: status %d", r.name, create.Status)
			}
			f.wantNoFootprint(t, before, r.name+" on creation")
		})
	}
	if got := f.mustGetWebhook(t, ws.APIKey, hook.ID); len(got.NotifyEmails) != 0 {
		t.Errorf("a refused change stored addresses %v", got.NotifyEmails)
	}
}
