package repo

import (
	"context"
	"fmt"
	"time"
)

// FleetStatus is what the fleet gauges show of all webhooks at once.
type FleetStatus struct {
	FailingWebhooks  int           `db:"failing"`
	DisabledWebhooks int           `db:"disabled"`
	OutboxLag        time.Duration `db:"-"`
}

// FleetStatus counts failing and disabled webhooks and how overdue the oldest
// pending delivery is.
func (s *Store) FleetStatus(ctx context.Context) (FleetStatus, error) {
	var h FleetStatus
	err := s.db.GetContext(ctx, &h, `
		SELECT count(*) FILTER (WHERE active AND consecutive_failures > 0) AS failing,
		       count(*) FILTER (WHERE NOT active AND disabled_reason IS NOT NULL) AS disabled
		FROM webhooks WHERE deleted_at IS NULL`)
	if err != nil {
		return FleetStatus{}, fmt.Errorf("count failing webhooks: %w", err)
	}
	var lagSeconds float64
	err = s.db.GetContext(ctx, &lagSeconds, `
		SELECT coalesce(extract(epoch FROM now() - min(next_attempt_at)), 0)
		FROM deliveries WHERE status = 'pending' AND next_attempt_at < now()`)
	if err != nil {
		return FleetStatus{}, fmt.Errorf("outbox lag: %w", err)
	}
	h.OutboxLag = time.Duration(lagSeconds * float64(time.Second))
	return h, nil
}
