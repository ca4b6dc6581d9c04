package api_test

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/repo"
)

// mustSecret checks the secret's form: "whsec_" and standard base64 of 32 bytes.
func mustSecret(tb testing.TB, secret string) {
	tb.Helper()
	enc, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		tb.Fatalf("secret %q does not start with whsec_", secret)
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		tb.Fatalf("secret %q is not standard base64 after the prefix: %v", secret, err)
	}
	if len(raw) != 32 {
		tb.Fatalf("secret decodes to %d bytes, want 32", len(raw))
	}
}

// defaultNotifyOn is the notices a new webhook mails unless told.
var defaultNotifyOn = []string{"webhook.failing", "webhook.at_risk", "webhook.disabled", "webhook.recovered"}

// ignoreTimes leaves the server-set timestamps out of a webhook comparison.
var ignoreTimes = cmpopts.IgnoreFields(client.Webhook{}, "CreatedAt", "UpdatedAt")

func TestCreateWebhook(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws := f.mustCreateWorkspace(t, "Acme")

	t.Run("defaults", func(t *testing.T) {
		start := time.Now().Add(-time.Minute)
		res := f.call(t, "POST", "/v1/webhooks", ws.APIKey,
			`{"url":" https://receiver.example/hooks?x=1 ","events":["post.created","comment.created","post.created"]}`)
		res.wantStatus(t, http.StatusCreated)
		var got client.Webhook
		res.decode(t, &got)

		if _, err := uuid.Parse(got.ID); err != nil {
			t.Errorf("id %q is not a UUID", got.ID)
		}
		mustSecret(t, got.Secret)
		want := client.Webhook{
			ID:     got.ID,
			URL:    "https://receiver.example/hooks?x=1",
			Events: []string{"post.created", "comment.created"},
			Active: true,
			Secret: got.Secret,
			// No addresses; the health notices, should some be added.
			NotifyEmails: []string{}, NotifyOn: defaultNotifyOn,
		}
		if diff := cmp.Diff(want, got, ignoreTimes); diff != "" {
			t.Errorf("created webhook (-want +got):\n%s", diff)
		}
		// Decoding got has checked that created_at and updated_at are RFC 3339.
		if got.CreatedAt.Before(start) || got.CreatedAt.After(time.Now().Add(time.Minute)) {
			t.Errorf("created_at = %s, not around now", got.CreatedAt)
		}

		// The stored row agrees, events deduplicated.
		var row struct {
			Events string `db:"events"`
			Active bool   `db:"active"`
			Secret string `db:"secret"`
		}
		if err := f.db.Get(&row, `SELECT events::text AS events, active, secret FROM webhooks WHERE id = $1`, got.ID); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(struct {
			Events string `db:"events"`
			Active bool   `db:"active"`
			Secret string `db:"secret"`
		}{"{post.created,comment.created}", true, got.Secret}, row); diff != "" {
			t.Errorf("stored webhook (-want +got):\n%s", diff)
		}
	})

	t.Run("inactive with description", func(t *testing.T) {
		desc := strings.Repeat("ü", 1000) // the limit counts characters, not bytes
		got := f.mustCreateWebhook(t, ws.APIKey, map[string]any{
			"url": "http://receiver.example:8080", "events": []string{"nps.submitted"}, "active": false, "description": desc,
		})
		mustSecret(t, got.Secret)
		want := client.Webhook{
			ID: got.ID, URL: "http://receiver.example:8080", Events: []string{"nps.submitted"},
			Active: false, Description: desc, Secret: got.Secret, NotifyEmails: []string{}, NotifyOn: defaultNotifyOn,
		}
		if diff := cmp.Diff(want, got, ignoreTimes); diff != "" {
			t.Errorf("created webhook (-want +got):\n%s", diff)
		}
	})

	t.Run("url of exactly 2048 bytes", func(t *testing.T) {
		u := "https://receiver.example/" + strings.Repeat("a", 2048-len("https://receiver.example/"))
		got := f.mustCreateWebhook(t, ws.APIKey, map[string]any{"url": u, "events": []string{"post.created"}})
		if got.URL != u {
			t.Errorf("url not stored as given")
		}
	})

	t.Run("every webhook gets its own secret", func(t *testing.T) {
		a := f.mustCreateHook(t, ws.APIKey, "post.created")
		b := f.mustCreateHook(t, ws.APIKey, "post.created")
		if a.Secret == b.Secret {
			t.Errorf("two webhooks share the secret %q", a.Secret)
		}
	})
}

func TestListAndGetWebhooksHideSecret(t *testing.T) {
	t.Parallel()
	f, ws, a := setupWithHook(t, "post.created")
	b := f.mustCreateWebhook(t, ws.APIKey, map[string]any{
		"url": "https://b.example", "events": []string{"csat.submitted"}, "active": false, "description": "B",
	})

	res := f.call(t, "GET", "/v1/webhooks", ws.APIKey, "")
	res.wantStatus(t, http.StatusOK)
	if strings.Contains(string(res.Body), "secret") || strings.Contains(string(res.Body), "whsec_") {
		t.Errorf("webhook list reveals secrets: %s", res.Body)
	}
	var list struct {
		Data []client.Webhook `json:"data"`
	}
	res.decode(t, &list)
	noSecret := func(h client.Webhook) client.Webhook { h.Secret = ""; return h }
	// Oldest first; the times are what creation returned.
	if diff := cmp.Diff([]client.Webhook{noSecret(a), noSecret(b)}, list.Data, asRendered); diff != "" {
		t.Errorf("webhook list (-want +got):\n%s", diff)
	}

	for _, h := range []client.Webhook{a, b} {
		res := f.call(t, "GET", "/v1/webhooks/"+h.ID, ws.APIKey, "")
		res.wantStatus(t, http.StatusOK)
		if slices.Contains(res.keys(t), "secret") || strings.Contains(string(res.Body), "whsec_") {
			t.Errorf("GET webhook reveals its secret: %s", res.Body)
		}
		var got client.Webhook
		res.decode(t, &got)
		if diff := cmp.Diff(noSecret(h), got, asRendered); diff != "" {
			t.Errorf("GET webhook (-want +got):\n%s", diff)
		}

		res = f.call(t, "GET", "/v1/webhooks/"+h.ID+"/secret", ws.APIKey, "")
		res.wantStatus(t, http.StatusOK)
		var secret map[string]string
		res.decode(t, &secret)
		if diff := cmp.Diff(map[string]string{"secret": h.Secret}, secret); diff != "" {
			t.Errorf("GET secret (-want +got):\n%s", diff)
		}
	}
}

func TestUpdateWebhook(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws := f.mustCreateWorkspace(t, "Acme")

	patch := func(t *testing.T, id, body string) client.Webhook {
		t.Helper()
		res := f.call(t, "PATCH", "/v1/webhooks/"+id, ws.APIKey, body)
		res.wantStatus(t, http.StatusOK)
		if slices.Contains(res.keys(t), "secret") {
			t.Errorf("PATCH answer reveals the secret: %s", res.Body)
		}
		var got client.Webhook
		res.decode(t, &got)
		// GET agrees with the PATCH answer.
		res = f.call(t, "GET", "/v1/webhooks/"+id, ws.APIKey, "")
		res.wantStatus(t, http.StatusOK)
		var stored client.Webhook
		res.decode(t, &stored)
		if diff := cmp.Diff(got, stored, asRendered); diff != "" {
			t.Errorf("GET after PATCH differs from the PATCH answer (-patch +get):\n%s", diff)
		}
		return got
	}

	orig := f.mustCreateWebhook(t, ws.APIKey, map[string]any{
		"url": "https://old.example/hook", "events": []string{"post.created"}, "description": "old",
	})
	want := orig
	want.Secret = ""

	tests := []struct {
		name   string
		body   string
		update func(*client.Webhook)
	}{
		{"url only", `{"url":"  https://new.example/hook  "}`, func(w *client.Webhook) { w.URL = "https://new.example/hook" }},
		{"events only, deduplicated", `{"events":["comment.created","post.assigned","comment.created"]}`,
			func(w *client.Webhook) { w.Events = []string{"comment.created", "post.assigned"} }},
		{"deactivate", `{"active":false}`, func(w *client.Webhook) { w.Active = false }},
		{"description only", `{"description":"new words"}`, func(w *client.Webhook) { w.Description = "new words" }},
		{"clear description", `{"description":""}`, func(w *client.Webhook) { w.Description = "" }},
		{"reactivate", `{"active":true}`, func(w *client.Webhook) { w.Active = true }},
		{"nothing", `{}`, func(*client.Webhook) {}},
		{"nulls change nothing", `{"url":null,"events":null,"active":null,"description":null}`, func(*client.Webhook) {}},
		{"everything", `{"url":"http://all.example","events":["nps.submitted"],"active":false,"description":"all"}`,
			func(w *client.Webhook) {
				w.URL, w.Events, w.Active, w.Description = "http://all.example", []string{"nps.submitted"}, false, "all"
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prevUpdated := want.UpdatedAt
			tt.update(&want)
			got := patch(t, orig.ID, tt.body)
			if diff := cmp.Diff(want, got, ignoreTimes); diff != "" {
				t.Errorf("patched webhook (-want +got):\n%s", diff)
			}
			if !cmp.Equal(orig.CreatedAt, got.CreatedAt, asRendered) {
				t.Errorf("created_at changed from %s to %s", orig.CreatedAt, got.CreatedAt)
			}
			if got.UpdatedAt.Before(prevUpdated) {
				t.Errorf("updated_at went back from %s to %s", want.UpdatedAt, got.UpdatedAt)
			}
			want.UpdatedAt = got.UpdatedAt
		})
	}

	t.Run("secret unchanged by patches", func(t *testing.T) {
		res := f.call(t, "GET", "/v1/webhooks/"+orig.ID+"/secret", ws.APIKey, "")
		res.wantStatus(t, http.StatusOK)
		var s map[string]string
		res.decode(t, &s)
		if s["secret"] != orig.Secret {
			t.Errorf("secret changed from %q to %q", orig.Secret, s["secret"])
		}
	})

	refused := []struct {
		name string
		body string
		want apiError
	}{
		{"empty events", `{"events":[]}`, apiError{Status: 422, Code: "validation_failed", Field: "events"}},
		{"unknown event type", `{"events":["post.deleted"]}`, apiError{Status: 422, Code: "validation_failed", Field: "events"}},
		{"unknown field", `{"active":true,"colour":"red"}`, apiError{Status: 422, Code: "validation_failed", Field: "colour"}},
		{"secret is not writable", `{"secret":"whsec_mine"}`, apiError{Status: 422, Code: "validation_failed", Field: "secret"}},
		{"bad url", `{"url":"ftp://x.example"}`, apiError{Status: 422, Code: "validation_failed", Field: "url"}},
		{"empty url", `{"url":""}`, apiError{Status: 422, Code: "validation_failed", Field: "url"}},
		{"description too long", `{"description":"` + strings.Repeat("x", 1001) + `"}`, apiError{Status: 422, Code: "validation_failed", Field: "description"}},
		{"active as string", `{"active":"false"}`, apiError{Status: 422, Code: "validation_failed", Field: "active"}},
		{"valid field then a bad one", `{"url":"https://changed.example","events":[]}`, apiError{Status: 422, Code: "validation_failed", Field: "events"}},
		{"empty body", ``, apiError{Status: 400, Code: "invalid_json"}},
	}
	for _, tt := range refused {
		t.Run("refused/"+tt.name, func(t *testing.T) {
			res := f.call(t, "PATCH", "/v1/webhooks/"+orig.ID, ws.APIKey, tt.body)
			res.wantError(t, tt.want)
			if diff := cmp.Diff(want, f.mustGetWebhook(t, ws.APIKey, orig.ID), asRendered); diff != "" {
				t.Errorf("refused PATCH changed the webhook (-before +after):\n%s", diff)
			}
		})
	}
}

// Turning a webhook off cancels at once its deliveries waiting for a retry:
// none is attempted once the customer said stop.
func TestTurnOffCancelsPendingDeliveries(t *testing.T) {
	t.Parallel()
	f, ws, hook := setupWithHook(t, "post.created")
	f.enq.WorkerRecords(t, f.store, repo.AttemptResult{StatusCode: 500, Error: "receiver answered 500",
		NewStatus: delivery.StatusPending, NextAttemptAt: time.Now().Add(time.Hour)})
	ev := f.mustPostEvent(t, ws.APIKey, testfactory.EventBody(t, "post.created", nil))
	f.call(t, "PATCH", "/v1/webhooks/"+hook.ID, ws.APIKey, `{"active":false}`).wantStatus(t, http.StatusOK)
	for _, id := range f.deliveryIDsOfEvent(t, ev.ID) {
		var d client.DeliveryDetail
		f.call(t, "GET", "/v1/deliveries/"+id, ws.APIKey, "").decode(t, &d)
		if d.Status != "cancelled" || d.FinishedAt == nil {
			t.Errorf("delivery %s is %s (finished %v), want cancelled", id, d.Status, d.FinishedAt)
		}
	}
}

func TestDeleteWebhook(t *testing.T) {
	t.Parallel()
	f, ws, keep := setupWithHook(t, "post.created")
	gone := f.mustCreateHook(t, ws.APIKey, "post.created")
	ev := f.mustPostEvent(t, ws.APIKey, testfactory.EventBody(t, "post.created", nil))
	var pending string
	if err := f.db.Get(&pending, `SELECT id::text FROM deliveries WHERE event_id = $1 AND webhook_id = $2`, ev.ID, gone.ID); err != nil {
		t.Fatal(err)
	}

	res := f.call(t, "DELETE", "/v1/webhooks/"+gone.ID, ws.APIKey, "")
	res.wantStatus(t, http.StatusNoContent)
	if len(res.Body) != 0 {
		t.Errorf("204 answer has a body: %q", res.Body)
	}

	for _, rt := range []struct{ method, path, body string }{
		{"GET", "/v1/webhooks/" + gone.ID, ""},
		{"PATCH", "/v1/webhooks/" + gone.ID, `{"active":true}`},
		{"DELETE", "/v1/webhooks/" + gone.ID, ""},
		{"GET", "/v1/webhooks/" + gone.ID + "/secret", ""},
		{"GET", "/v1/webhooks/" + gone.ID + "/deliveries", ""},
		{"POST", "/v1/deliveries/" + pending + "/redeliver", ""},
	} {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			f.call(t, rt.method, rt.path, ws.APIKey, rt.body).wantError(t, apiError{Status: 404, Code: "not_found"})
		})
	}

	t.Run("list leaves it out", func(t *testing.T) {
		res := f.call(t, "GET", "/v1/webhooks", ws.APIKey, "")
		res.wantStatus(t, http.StatusOK)
		var list struct {
			Data []client.Webhook `json:"data"`
		}
		res.decode(t, &list)
		var ids []string
		for _, h := range list.Data {
			ids = append(ids, h.ID)
		}
		if diff := cmp.Diff([]string{keep.ID}, ids); diff != "" {
			t.Errorf("listed webhooks (-want +got):\n%s", diff)
		}
	})

	t.Run("its pending delivery is cancelled and still readable", func(t *testing.T) {
		res := f.call(t, "GET", "/v1/deliveries/"+pending, ws.APIKey, "")
		res.wantStatus(t, http.StatusOK)
		var d client.DeliveryDetail
		res.decode(t, &d)
		if d.Status != "cancelled" {
			t.Errorf("status = %q, want cancelled", d.Status)
		}
	})

	t.Run("the secret is forgotten", func(t *testing.T) {
		var secret string
		if err := f.db.Get(&secret, `SELECT secret FROM webhooks WHERE id = $1`, gone.ID); err != nil {
			t.Fatal(err)
		}
		if secret != "" {
			t.Errorf("deleted webhook still stores its secret")
		}
	})

	t.Run("the other webhook is untouched", func(t *testing.T) {
		f.call(t, "GET", "/v1/webhooks/"+keep.ID, ws.APIKey, "").wantStatus(t, http.StatusOK)
	})
}
