package e2e

import (
	"net/http"
	"testing"
	"time"
)

// webhookHealth is the health part of a webhook object.
type webhookHealth struct {
	ID                  string     `json:"id"`
	Active              bool       `json:"active"`
	FailureCount        int        `json:"failure_count"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	LastSuccessAt       *time.Time `json:"last_success_at"`
	LastFailureAt       *time.Time `json:"last_failure_at"`
	DisabledReason      *string    `json:"disabled_reason"`
	DisabledAt          *time.Time `json:"disabled_at"`
	SuccessRate24h      *float64   `json:"success_rate_24h"`
}

func (w *workspace) health(t testing.TB, id string) webhookHealth {
	t.Helper()
	var h webhookHealth
	w.call(t, "GET", "/v1/webhooks/"+id, nil, http.StatusOK, &h)
	return h
}

// deliveryRow is a history entry with the field recovery sets.
type deliveryRow struct {
	delivery
	RedeliveryOf *string `json:"redelivery_of"`
}

// rows returns a webhook's history (at most 100 deliveries), newest first.
func (w *workspace) rows(t testing.TB, webhookID string) []deliveryRow {
	t.Helper()
	var resp struct {
		Data       []deliveryRow `json:"data"`
		NextCursor *string       `json:"next_cursor"`
	}
	w.call(t, "GET", "/v1/webhooks/"+webhookID+"/deliveries?limit=100", nil, http.StatusOK, &resp)
	if resp.NextCursor != nil {
		t.Fatalf("history of %s has more than 100 deliveries", webhookID)
	}
	return resp.Data
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
