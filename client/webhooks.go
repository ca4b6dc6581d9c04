package client

import (
	"context"
	"net/http"
	"time"
)

// Webhook is a customer's endpoint and the event types it is subscribed to.
type Webhook struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Active      bool     `json:"active"`
	Description string   `json:"description"`
	// FailureCount counts its failed attempts; ConsecutiveFailures those
	// since its last success.
	FailureCount        int64 `json:"failure_count"`
	ConsecutiveFailures int   `json:"consecutive_failures"`
	// DisabledReason says why the API turned it off: "gone" after a 410,
	// "failing" after a long failure streak; nil while it is not disabled.
	DisabledReason *string    `json:"disabled_reason"`
	DisabledAt     *time.Time `json:"disabled_at"`
	LastSuccessAt  *time.Time `json:"last_success_at"`
	LastFailureAt  *time.Time `json:"last_failure_at"`
	// SuccessRate24h is the share, from 0 to 1, of the last day's attempts
	// answered 2xx; nil without attempts.
	SuccessRate24h *float64  `json:"success_rate_24h"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	// Secret signs its deliveries. Only CreateWebhook's answer holds it;
	// GetWebhookSecret reads it later.
	Secret string `json:"secret,omitempty"`
	// Recovery is set only in UpdateWebhook's answer when the update
	// re-enabled a webhook that was failing: what failed meanwhile, ready
	// for Recover.
	Recovery *RecoveryOffer `json:"recovery,omitempty"`
	// NotifyEmails get by mail the failure notices NotifyOn lists
	// ("webhook.failing", "webhook.at_risk", "webhook.disabled",
	// "webhook.recovered", "delivery.exhausted").
	NotifyEmails []string `json:"notify_emails"`
	NotifyOn     []string `json:"notify_on"`
	// NoticeStage is how far its trouble has gone as its owners were last
	// told: "failing", "at_risk" or "disabled"; nil when nothing is wrong.
	NoticeStage *string `json:"notice_stage"`
}

// RecoveryOffer is the window of a re-enabled webhook's failure streak and
// how many deliveries failed in it.
type RecoveryOffer struct {
	Since            time.Time `json:"since"`
	Until            time.Time `json:"until"`
	FailedDeliveries int       `json:"failed_deliveries"`
}

// CreateWebhookParams is a new webhook.
type CreateWebhookParams struct {
	// URL is the endpoint, http or https.
	URL string `json:"url"`
	// Events lists the event types it gets, at least one.
	Events []string `json:"events"`
	// Active defaults to true; new(false) creates it inactive.
	Active *bool `json:"active,omitempty"`
	// Description is an optional note of up to 1000 characters.
	Description string `json:"description,omitempty"`
	// NotifyEmails, up to 10 bare addresses, get failure notices by mail;
	// NotifyOn picks which (nil: the four webhook.* notices).
	NotifyEmails []string `json:"notify_emails,omitempty"`
	NotifyOn     []string `json:"notify_on,omitzero"`
}

// UpdateWebhookParams changes the fields it sets and leaves the others.
type UpdateWebhookParams struct {
	URL *string `json:"url,omitempty"`
	// Events replaces the subscribed types unless nil.
	Events []string `json:"events,omitzero"`
	// Active true re-enables a disabled webhook and resets its failure
	// streak (see Webhook.Recovery); false pauses it.
	Active      *bool   `json:"active,omitempty"`
	Description *string `json:"description,omitempty"`
	// NotifyEmails and NotifyOn replace the lists unless nil; an empty
	// list clears one.
	NotifyEmails []string `json:"notify_emails,omitzero"`
	NotifyOn     []string `json:"notify_on,omitzero"`
}

// CreateWebhook creates a webhook with a new secret, which the answer
// holds. It is not retried after a 5xx or a network error once the request
// may have been sent: a repeat could create a second webhook. List the
// webhooks to see whether it exists.
func (c *Client) CreateWebhook(ctx context.Context, p CreateWebhookParams) (Webhook, error) {
	var w Webhook
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/v1/webhooks", body: p}, &w)
	return w, err
}

// ListWebhooks lists the workspace's webhooks.
func (c *Client) ListWebhooks(ctx context.Context) ([]Webhook, error) {
	var page struct {
		Data []Webhook `json:"data"`
	}
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/v1/webhooks", idempotent: true}, &page)
	return page.Data, err
}

// GetWebhook reads a webhook.
func (c *Client) GetWebhook(ctx context.Context, id string) (Webhook, error) {
	return c.webhookCall(ctx, http.MethodGet, id, nil)
}

// UpdateWebhook changes what p sets. Setting the same values twice leaves
// the same webhook, so it is retried like a read; the retry of an update
// that re-enabled a failing webhook answers without the Recovery offer,
// already spent by the first attempt.
func (c *Client) UpdateWebhook(ctx context.Context, id string, p UpdateWebhookParams) (Webhook, error) {
	return c.webhookCall(ctx, http.MethodPatch, id, p)
}

func (c *Client) webhookCall(ctx context.Context, method, id string, body any) (Webhook, error) {
	path, err := pathOf("webhooks", id)
	if err != nil {
		return Webhook{}, err
	}
	var w Webhook
	_, err = c.do(ctx, call{method: method, path: path, body: body, idempotent: true}, &w)
	return w, err
}

// DeleteWebhook deletes a webhook; its pending deliveries end cancelled.
// A retry whose first attempt did delete it answers an *Error with
// CodeNotFound, which a caller deleting it may take as done.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	path, err := pathOf("webhooks", id)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, call{method: http.MethodDelete, path: path, idempotent: true}, nil)
	return err
}
