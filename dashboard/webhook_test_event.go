package dashboard

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/trackelio/webhooks/manage"
)

// testView is what the endpoint answered a test event; the page's script
// receives it as JSON and shows it live.
type testView struct {
	DeliveryID   string `json:"delivery_id,omitempty"`
	DeliveryURL  string `json:"delivery_url,omitempty"`
	Succeeded    bool   `json:"succeeded"`
	StatusCode   int    `json:"status_code,omitempty"`
	ResponseBody string `json:"response_body"`
	Truncated    bool   `json:"response_truncated"`
	Error        string `json:"error,omitempty"`
	DurationMS   int    `json:"duration_ms"`
	// Problem is why there is no answer to show (the wait ran out, or the
	// webhook is inactive).
	Problem string `json:"problem,omitempty"`
}

// webhookTest sends a test event and shows the endpoint's answer: on the
// page it returns, or as JSON for the page's script.
func (d *Dashboard) webhookTest(w http.ResponseWriter, r *http.Request, v *visit) error {
	hook, err := d.loadWebhook(r, v)
	if err != nil {
		return err
	}
	res, err := d.manage.SendTest(r.Context(), hook)
	var (
		tv      testView
		timeout *manage.TestTimeout
		refusal *manage.Refusal
	)
	switch {
	case errors.As(err, &timeout):
		tv = testView{DeliveryID: timeout.DeliveryID, DeliveryURL: deliveryPath(timeout.DeliveryID),
			Problem: "No answer within " + timeout.Waited.String() + ". The test delivery stays in the history and will still be attempted."}
	case errors.As(err, &refusal):
		tv = testView{Problem: sentence(refusal.Message)}
	case err != nil:
		return err
	default:
		tv = testView{DeliveryID: res.DeliveryID, DeliveryURL: deliveryPath(res.DeliveryID), Succeeded: res.Succeeded}
		if a := res.Attempt; a != nil {
			tv.StatusCode, tv.ResponseBody, tv.Truncated = int(a.StatusCode.Int32), text(a.ResponseBody), a.ResponseTruncated
			tv.Error, tv.DurationMS = a.Error.String, a.DurationMS
		} else {
			tv.Problem = "The delivery ended without an attempt: the webhook was deleted meanwhile."
		}
	}
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		w.Header().Set("Content-Type", "application/json")
		return json.NewEncoder(w).Encode(tv)
	}
	return d.showWebhook(w, r, v, hook, detailExtras{test: &tv})
}
