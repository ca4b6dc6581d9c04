package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/repo"
)

func TestTestEventAnswersTheAttempt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		result repo.AttemptResult
		want   client.TestResult
	}{
		{"success", repo.AttemptResult{
			StatusCode: 200, ResponseBody: []byte(`{"ok":true}`), Duration: 12 * time.Millisecond,
			Succeeded: true, NewStatus: delivery.StatusSucceeded,
		}, client.TestResult{
			Status: client.DeliverySucceeded, Succeeded: true, StatusCode: new(200), ResponseBody: `{"ok":true}`, DurationMS: 12,
		}},
		{"failure", repo.AttemptResult{
			StatusCode: 500, ResponseBody: []byte("boom…"), ResponseTruncated: true, Error: "receiver answered 500",
			Duration: 30 * time.Millisecond, NewStatus: delivery.StatusFailed,
		}, client.TestResult{
			Status: client.DeliveryFailed, StatusCode: new(500), ResponseBody: "boom…", ResponseTruncated: true,
			Error: new("receiver answered 500"), DurationMS: 30,
		}},
		{"no response", repo.AttemptResult{
			Error: "timed out after 10s", Duration: 10 * time.Second, NewStatus: delivery.StatusFailed,
		}, client.TestResult{
			Status: client.DeliveryFailed, Error: new("timed out after 10s"), DurationMS: 10000,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Subscribed to something else: a test goes to it all the same.
			f, ws, hook := setupWithHook(t, "nps.submitted")
			sibling := f.mustCreateHook(t, ws.APIKey, "nps.submitted")
			f.enq.WorkerRecords(t, f.store, tt.result)
			counts := f.rowCounts(t)

			got := answerAs[client.TestResult](t, f.call(t, "POST", "/v1/webhooks/"+hook.ID+"/test", ws.APIKey, ""), http.StatusOK)

			enqueued := f.enq.Enqueued()
			if len(enqueued) != 1 {
				t.Fatalf("enqueued %v, want the one test delivery", enqueued)
			}
			want := tt.want
			want.DeliveryID, want.EventID = enqueued[0], got.EventID
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("test answer (-want +got):\n%s", diff)
			}

			// One event of type webhook.test, one delivery, to this webhook only.
			counts["events"]++
			counts["deliveries"]++
			counts["delivery_attempts"]++
			if diff := cmp.Diff(counts, f.rowCounts(t)); diff != "" {
				t.Errorf("row counts (-want +got):\n%s", diff)
			}
			var row struct {
				Type      string `db:"type"`
				Body      []byte `db:"body"`
				WebhookID string `db:"webhook_id"`
			}
			if err := f.db.Get(&row, `SELECT e.type, e.body, d.webhook_id FROM deliveries d JOIN events e ON e.id = d.event_id
				WHERE d.id = $1 AND e.id = $2`, got.DeliveryID, got.EventID); err != nil {
				t.Fatalf("read test delivery: %v", err)
			}
			if row.Type != "webhook.test" || row.WebhookID != hook.ID {
				t.Errorf("test delivery is a %q to %s, want webhook.test to %s", row.Type, row.WebhookID, hook.ID)
			}
			var body struct {
				ID          string            `json:"id"`
				Type        string            `json:"type"`
				WorkspaceID string            `json:"workspace_id"`
				Data        map[string]string `json:"data"`
			}
			if err := json.Unmarshal(row.Body, &body); err != nil {
				t.Fatalf("test event body %s: %v", row.Body, err)
			}
			if body.ID != got.EventID || body.Type != "webhook.test" || body.WorkspaceID != ws.ID ||
				body.Data["webhook_id"] != hook.ID || body.Data["message"] == "" {
				t.Errorf("test event body = %s, want the event id, type, workspace and the webhook id in data", row.Body)
			}
			var siblings int
			if err := f.db.Get(&siblings, `SELECT count(*) FROM deliveries WHERE webhook_id = $1`, sibling.ID); err != nil || siblings != 0 {
				t.Errorf("sibling webhook has %d deliveries, %v; want 0", siblings, err)
			}
			// It stays in the history like any other delivery.
			page := f.call(t, "GET", "/v1/webhooks/"+hook.ID+"/deliveries", ws.APIKey, "")
			page.wantStatus(t, http.StatusOK)
			var p client.DeliveryPage
			page.decode(t, &p)
			if len(p.Data) != 1 || p.Data[0].ID != got.DeliveryID || p.Data[0].EventType != "webhook.test" {
				t.Errorf("delivery history = %+v, want the test delivery", p.Data)
			}
		})
	}
}

// A disabled webhook can be tested, to check a fix before re-enabling it;
// the test leaves it disabled.
func TestTestEventInactiveWebhook(t *testing.T) {
	t.Parallel()
	f, ws, hook := setupWithHook(t, "post.created")
	f.call(t, "PATCH", "/v1/webhooks/"+hook.ID, ws.APIKey, `{"active":false}`).wantStatus(t, http.StatusOK)
	f.enq.WorkerRecords(t, f.store, repo.AttemptResult{StatusCode: 200, Succeeded: true, NewStatus: delivery.StatusSucceeded, ExcludeFromHealth: true})

	got := answerAs[client.TestResult](t, f.call(t, "POST", "/v1/webhooks/"+hook.ID+"/test", ws.APIKey, ""), http.StatusOK)
	if !got.Succeeded || got.StatusCode == nil || *got.StatusCode != 200 || len(f.enq.Enqueued()) != 1 {
		t.Errorf("test of an inactive webhook = %+v (enqueued %v), want the endpoint's 200", got, f.enq.Enqueued())
	}
	if f.mustGetWebhook(t, ws.APIKey, hook.ID).Active {
		t.Errorf("testing an inactive webhook activated it")
	}
}

func TestTestEventNotFound(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws := f.mustCreateWorkspace(t, "Acme")
	other := f.mustCreateWorkspace(t, "Other")
	theirs := f.mustCreateHook(t, other.APIKey, "post.created")
	deleted := f.mustDeletedHook(t, ws.APIKey)
	before := f.footprint(t)

	for name, id := range map[string]string{
		"unknown":             uuid.NewString(),
		"not a uuid":          "nope",
		"uuid without dashes": strings.ReplaceAll(theirs.ID, "-", ""),
		"another workspace's": theirs.ID,
		"deleted":             deleted.ID,
	} {
		t.Run(name, func(t *testing.T) {
			f.call(t, "POST", "/v1/webhooks/"+id+"/test", ws.APIKey, "").
				wantError(t, apiError{Status: http.StatusNotFound, Code: "not_found"})
		})
	}
	f.wantNoFootprint(t, before, "refused tests")
}
