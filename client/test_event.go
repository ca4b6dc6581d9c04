package client

import (
	"context"
	"net/http"
)

// TestResult is what a webhook's endpoint answered a test event.
type TestResult struct {
	// DeliveryID and EventID name the test delivery, which stays in the
	// webhook's history.
	DeliveryID string `json:"delivery_id"`
	EventID    string `json:"event_id"`
	// Status is the delivery's status after its one attempt:
	// DeliverySucceeded or DeliveryFailed (a test event is not retried).
	Status DeliveryStatus `json:"status"`
	// Succeeded says the endpoint answered 2xx.
	Succeeded bool `json:"succeeded"`
	// StatusCode is nil when no answer came (Error says why).
	StatusCode        *int    `json:"status_code"`
	ResponseBody      string  `json:"response_body"`
	ResponseTruncated bool    `json:"response_truncated"`
	Error             *string `json:"error"`
	DurationMS        int     `json:"duration_ms"`
}

// SendTestEvent sends a webhook.test event to one webhook, whatever it is
// subscribed to and even while it is inactive, and waits for the endpoint's
// answer to its one attempt, which does not count toward the webhook's
// failures or auto-disable: up to the delivery
// timeout plus 5 seconds, after which the API answers an *Error with
// CodeTestTimeout (the delivery goes on). Each call sends another event,
// so it is retried only when the API certainly did not act.
func (c *Client) SendTestEvent(ctx context.Context, webhookID string) (TestResult, error) {
	path, err := pathOf("webhooks", webhookID, "test")
	if err != nil {
		return TestResult{}, err
	}
	var out TestResult
	_, err = c.do(ctx, call{method: http.MethodPost, path: path}, &out)
	return out, err
}
