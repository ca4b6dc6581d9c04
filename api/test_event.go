package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/trackelio/webhooks/catalog"
	"github.com/trackelio/webhooks/repo"
)

// testPoll is how often a test request looks for the worker's attempt.
const testPoll = 50 * time.Millisecond

// testWebhook sends a webhook.test event to one webhook, whatever it is
// subscribed to, waits for the attempt and answers what the endpoint said.
// The delivery stays in the history like any other.
func (s *Server) testWebhook(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.loadWebhook(r)
	if err != nil {
		return err
	}
	if !hook.Active {
		return &Error{Status: http.StatusConflict, Code: "webhook_inactive", Message: "the webhook is inactive; activate it before testing"}
	}
	data, err := json.Marshal(map[string]string{
		"webhook_id": hook.ID,
		"message":    "This is a test event from Trackelio Webhooks.",
	})
	if err != nil {
		return err
	}
	ws := workspaceID(r.Context())
	ev, err := newEvent(ws, catalog.TestType, data)
	if err != nil {
		return err
	}
	deliveryID, err := s.store.CreateTestEvent(r.Context(), ev, hook.ID)
	if err != nil {
		return err
	}
	s.enqueue(r, []string{deliveryID})

	deadline := time.Now().Add(s.testWait)
	for {
		d, err := s.store.Delivery(r.Context(), ws, deliveryID)
		if err != nil {
			return err
		}
		if d.Attempts > 0 || d.Status != repo.StatusPending {
			as, err := s.store.Attempts(r.Context(), deliveryID)
			if err != nil {
				return err
			}
			ans := testAnswer{DeliveryID: deliveryID, EventID: ev.ID, Status: d.Status}
			if len(as) > 0 {
				a := as[0]
				ans.Succeeded = a.StatusCode.Valid && a.StatusCode.Int32 >= 200 && a.StatusCode.Int32 <= 299
				ans.StatusCode, ans.ResponseBody, ans.ResponseTruncated = nullInt(a.StatusCode), string(a.ResponseBody), a.ResponseTruncated
				ans.Error, ans.DurationMS = nullString(a.Error), a.DurationMS
			}
			writeJSON(w, http.StatusOK, ans)
			return nil
		}
		if time.Now().After(deadline) {
			return &Error{Status: http.StatusGatewayTimeout, Code: "test_timeout",
				Message: fmt.Sprintf("no attempt within %s; delivery %s stays in the history and will still be attempted", s.testWait, deliveryID)}
		}
		select {
		case <-r.Context().Done():
			return r.Context().Err()
		case <-time.After(testPoll):
		}
	}
}

type testAnswer struct {
	DeliveryID        string  `json:"delivery_id"`
	EventID           string  `json:"event_id"`
	Status            string  `json:"status"`
	Succeeded         bool    `json:"succeeded"`
	StatusCode        *int32  `json:"status_code"`
	ResponseBody      string  `json:"response_body"`
	ResponseTruncated bool    `json:"response_truncated"`
	Error             *string `json:"error"`
	DurationMS        int     `json:"duration_ms"`
}
