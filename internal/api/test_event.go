package api

import (
	"net/http"

	"github.com/trackelio/webhooks/internal/manage"
)

// testWebhook sends a webhook.test event to one webhook, whatever it is
// subscribed to, waits for the attempt and answers what the endpoint said.
// The delivery stays in the history like any other.
func (s *Server) testWebhook(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.loadWebhook(r)
	if err != nil {
		return err
	}
	res, err := s.manage.SendTest(r.Context(), hook)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newTestAnswer(res))
	return nil
}

type testAnswer struct {
	DeliveryID        string  `json:"delivery_id"`
	EventID           string  `json:"event_id"`
	Status            string  `json:"status"`
	Succeeded         bool    `json:"succeeded"`
	StatusCode        *int    `json:"status_code"`
	ResponseBody      string  `json:"response_body"`
	ResponseTruncated bool    `json:"response_truncated"`
	Error             *string `json:"error"`
	DurationMS        int     `json:"duration_ms"`
}

func newTestAnswer(res manage.TestResult) testAnswer {
	ans := testAnswer{DeliveryID: res.DeliveryID, EventID: res.EventID, Status: string(res.Status), Succeeded: res.Succeeded}
	if a := res.Attempt; a != nil {
		ans.StatusCode, ans.ResponseBody, ans.ResponseTruncated = a.StatusCode, string(a.ResponseBody), a.ResponseTruncated
		ans.Error, ans.DurationMS = a.Error, a.DurationMS
	}
	return ans
}
