package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// RecoverParams is the window of a recovery.
type RecoverParams struct {
	// Since is the window's start, at most 14 days ago; required.
	Since time.Time
	// Until is its end; zero means now.
	Until time.Time
	// DryRun only counts what would be sent again.
	DryRun bool
}

// RecoverResult is the answer to Recover.
type RecoverResult struct {
	// Deliveries counts the deliveries sent again (or, on a dry run, that
	// would be).
	Deliveries int       `json:"deliveries"`
	DryRun     bool      `json:"dry_run"`
	Since      time.Time `json:"since"`
	Until      time.Time `json:"until"`
}

// Recover sends again every delivery of a webhook created in the window
// that ended without success: failed, or cancelled while the webhook was
// disabled. A dry run is a read and is retried like one; a real recovery
// sends the deliveries again on each call, so it is retried only when the
// API certainly did not act.
func (c *Client) Recover(ctx context.Context, webhookID string, p RecoverParams) (RecoverResult, error) {
	path, err := pathOf("webhooks", webhookID, "recover")
	if err != nil {
		return RecoverResult{}, err
	}
	body := struct {
		Since string `json:"since"`
		Until string `json:"until,omitempty"`
	}{Since: p.Since.Format(time.RFC3339Nano)}
	if !p.Until.IsZero() {
		body.Until = p.Until.Format(time.RFC3339Nano)
	}
	cl := call{method: http.MethodPost, path: path, body: body, idempotent: p.DryRun}
	if p.DryRun {
		cl.query = url.Values{"dry_run": {"true"}}
	}
	var out RecoverResult
	_, err = c.do(ctx, cl, &out)
	return out, err
}
