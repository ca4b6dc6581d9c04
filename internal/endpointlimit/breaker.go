package endpointlimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

func probeKey(webhookID string) string { return "trackelio:probe:{" + webhookID + "}" }

// BreakerWait is how long a delivery to a webhook with this many
// consecutive failures must wait before its attempt: 0 while the breaker is
// closed, and with it open 0 for the one delivery per probe interval that
// probes the endpoint, the time until the next probe for the others.
func (l *Limits) BreakerWait(ctx context.Context, webhookID string, consecutiveFailures int) (time.Duration, error) {
	if l.cfg.BreakerThreshold <= 0 || consecutiveFailures < l.cfg.BreakerThreshold {
		return 0, nil
	}
	won, err := l.rdb.SetNX(ctx, probeKey(webhookID), "1", l.cfg.ProbeInterval).Result()
	if err != nil {
		return 0, fmt.Errorf("breaker probe: %w", err)
	}
	if won {
		return 0, nil
	}
	ttl, err := l.rdb.PTTL(ctx, probeKey(webhookID)).Result()
	if err != nil {
		return 0, fmt.Errorf("breaker probe ttl: %w", err)
	}
	// Spread the waiters so they do not all race for the next probe.
	return max(ttl, 0) + time.Duration(rand.Int64N(int64(l.cfg.ProbeInterval/10)+1)), nil
}
