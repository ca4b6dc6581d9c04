package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/trackelio/webhooks/internal/delivery"
)

// What a webhook's deliveries add up to, as its pages show it: the last
// day's success rate, the latest attempt, and counts by hour.

// Attempts of the last day belong to deliveries created at most a few days
// earlier (the retry schedule), which bounds the index scan.
const successRatesSQL = `
	SELECT d.webhook_id,
	       avg(CASE WHEN a.status_code BETWEEN 200 AND 299 THEN 1.0 ELSE 0.0 END)::float8 AS rate
	FROM deliveries d JOIN delivery_attempts a ON a.delivery_id = d.id
	WHERE d.webhook_id = ANY($1) AND d.created_at > now() - interval '7 days'
	  AND a.created_at > now() - interval '24 hours' AND d.event_type <> '` + delivery.TestEventType + `'
	GROUP BY d.webhook_id`

// SuccessRates returns, per webhook id, the share of attempts in the last 24
// hours that succeeded; webhooks without attempts are absent. Test events'
// attempts are not the webhook's health and do not count.
func (s *Store) SuccessRates(ctx context.Context, webhookIDs []string) (map[string]float64, error) {
	var rows []struct {
		WebhookID string  `db:"webhook_id"`
		Rate      float64 `db:"rate"`
	}
	err := s.db.SelectContext(ctx, &rows, successRatesSQL, pq.StringArray(webhookIDs))
	if err != nil {
		return nil, fmt.Errorf("success rates: %w", err)
	}
	out := make(map[string]float64, len(rows))
	for _, r := range rows {
		out[r.WebhookID] = r.Rate
	}
	return out, nil
}

// LastAttempt is the latest attempted delivery of a webhook.
type LastAttempt struct {
	DeliveryID string          `db:"id"`
	Status     delivery.Status `db:"status"`
	StatusCode *int            `db:"status_code"` // nil when no response arrived
	At         time.Time       `db:"last_attempt_at"`
}

const lastAttemptsSQL = `
	SELECT h.id AS webhook_id, d.id, d.status, d.status_code, d.last_attempt_at
	FROM unnest($1::uuid[]) AS h(id)
	CROSS JOIN LATERAL (
		SELECT id, status, status_code, last_attempt_at FROM deliveries
		WHERE webhook_id = h.id AND last_attempt_at IS NOT NULL
		ORDER BY created_at DESC, id DESC LIMIT 1) d`

// LastAttempts returns, per webhook id, its newest delivery that has been
// attempted; webhooks without one are absent. Each webhook costs a short
// walk down its history index.
func (s *Store) LastAttempts(ctx context.Context, webhookIDs []string) (map[string]LastAttempt, error) {
	var rows []struct {
		WebhookID string `db:"webhook_id"`
		LastAttempt
	}
	err := s.db.SelectContext(ctx, &rows, lastAttemptsSQL, pq.StringArray(webhookIDs))
	if err != nil {
		return nil, fmt.Errorf("last attempts: %w", err)
	}
	out := make(map[string]LastAttempt, len(rows))
	for _, r := range rows {
		out[r.WebhookID] = r.LastAttempt
	}
	return out, nil
}

// HourCount is how many deliveries of a webhook created in one hour (UTC)
// are in one status.
type HourCount struct {
	Hour   time.Time       `db:"hour"`
	Status delivery.Status `db:"status"`
	Count  int             `db:"count"`
}

const hourlyCountsSQL = `
	SELECT date_bin('1 hour', created_at, '2000-01-01 00:00:00+00') AS hour, status, count(*) AS count
	FROM deliveries
	WHERE webhook_id = $1 AND workspace_id = $2 AND created_at >= $3
	GROUP BY 1, 2 ORDER BY 1, 2`

// HourlyCounts counts a webhook's deliveries created since the given time by
// hour (UTC) and status, reading only that range of the history index.
// date_bin on the absolute time costs half what date_trunc in a zone does.
func (s *Store) HourlyCounts(ctx context.Context, workspaceID, webhookID string, since time.Time) ([]HourCount, error) {
	cs := []HourCount{}
	err := s.db.SelectContext(ctx, &cs, hourlyCountsSQL, webhookID, workspaceID, since)
	if err != nil {
		return nil, fmt.Errorf("hourly delivery counts: %w", err)
	}
	return cs, nil
}
