package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/repo"
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
	// webhook was deleted meanwhile).
	Problem string `json:"problem,omitempty"`
}

// newTestView shows a test delivery's attempt, or why there is none.
func newTestView(deliveryID string, a *repo.Attempt, problem string) *testView {
	tv := &testView{DeliveryID: deliveryID, DeliveryURL: deliveryPath(deliveryID), Problem: problem}
	if a != nil {
		tv.StatusCode, tv.ResponseBody, tv.Truncated = orNone(a.StatusCode), text(a.ResponseBody), a.ResponseTruncated
		tv.Succeeded = tv.StatusCode >= 200 && tv.StatusCode <= 299
		tv.Error, tv.DurationMS, tv.Problem = orNone(a.Error), a.DurationMS, ""
	}
	return tv
}

// webhookTest sends a test event and shows the endpoint's answer: as JSON
// for the page's script, or, without script, on the webhook's page it
// redirects to, so a reload shows the answer again rather than sending
// another test.
func (d *Dashboard) webhookTest(w http.ResponseWriter, r *http.Request, v *visit) error {
	hook, err := d.loadWebhook(r, v)
	if err != nil {
		return err
	}
	res, err := d.manage.SendTest(r.Context(), hook)
	var (
		tv      *testView
		timeout *manage.TestTimeout
	)
	switch {
	case errors.As(err, &timeout):
		tv = newTestView(timeout.DeliveryID, nil, "No answer within "+timeout.Waited.String()+". The test delivery stays in the history and will still be attempted.")
	case err != nil:
		return err
	default:
		tv = newTestView(res.DeliveryID, res.Attempt, "The delivery ended without an attempt: the webhook was deleted meanwhile.")
	}
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		w.Header().Set("Content-Type", "application/json")
		return json.NewEncoder(w).Encode(tv)
	}
	http.Redirect(w, r, webhookPath(hook.ID)+"?test="+url.QueryEscape(tv.DeliveryID)+"#test", http.StatusSeeOther)
	return nil
}

// testAnswer reads the answer to a test of this webhook for its page; nil
// when the id is not such a delivery.
func (d *Dashboard) testAnswer(ctx context.Context, v *visit, webhookID, deliveryID string) (*testView, error) {
	if _, err := uuid.Parse(deliveryID); err != nil {
		return nil, nil
	}
	dl, err := d.store.Delivery(ctx, v.WorkspaceID, deliveryID)
	if errors.Is(err, repo.ErrNotFound) || err == nil && (dl.WebhookID != webhookID || dl.EventType != delivery.TestEventType) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	as, err := d.store.Attempts(ctx, dl.ID)
	if err != nil || len(as) == 0 {
		return newTestView(dl.ID, nil, "No answer yet: the test delivery is waiting for its attempt. Reload the page to see it."), err
	}
	return newTestView(dl.ID, &as[0], ""), nil
}
