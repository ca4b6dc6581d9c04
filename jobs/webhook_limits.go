package jobs

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trackelio/webhooks/inflight"
)

// WebhookLimitsConfig sets the per-webhook limits shared by every worker replica.
type WebhookLimitsConfig struct {
	// MaxInFlight caps concurrent attempts to one webhook across all
	// workers: the ceiling of its adaptive limit.
	MaxInFlight int
	// Slots is how many attempts this worker runs at once, shared
	// max-min fairly among busy webhooks (WORKER_CONCURRENCY).
	Slots int
	// MaxWaiting bounds the tasks that wait in this worker for a slot, and
	// MaxWait how long each may (see inflight.Config).
	MaxWaiting int
	MaxWait    time.Duration
	// LeaseTTL is how long a worker's share of a webhook's cap lasts
	// unrenewed, so a worker that died frees its share (default 3 s).
	// Shares are renewed every third of it.
	LeaseTTL time.Duration
	// BreakerThreshold opens the breaker after this many consecutive
	// failures; zero turns the breaker off.
	BreakerThreshold int
	// ProbeInterval is how often one delivery may probe an open breaker.
	ProbeInterval time.Duration
}

// WebhookLimits limits attempts per webhook. Each worker keeps an adaptive limit
// per webhook and its waiting tasks (inflight.Limiter), and leases a share
// of the webhook's cap from Redis, renewing it in the background: attempts
// themselves touch no shared state, and the shares never add up to more
// than the cap. The circuit breaker's probes are in Redis too. Close it to
// return the shares.
type WebhookLimits struct {
	rdb    redis.UniversalClient
	cfg    WebhookLimitsConfig
	worker string // this process's name in the leases
	local  *inflight.Limiter
	stop   chan struct{}
	done   chan struct{}
	// crashed keeps the shares on Close, as a killed worker does; tests
	// set it to see them expire.
	crashed atomic.Bool
}

// NewWebhookLimits builds the limits on a go-redis client and starts renewing
// the shares.
func NewWebhookLimits(rdb redis.UniversalClient, cfg WebhookLimitsConfig) *WebhookLimits {
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 3 * time.Second
	}
	b := make([]byte, 8)
	crand.Read(b)
	l := &WebhookLimits{rdb: rdb, cfg: cfg, worker: hex.EncodeToString(b), stop: make(chan struct{}), done: make(chan struct{})}
	l.local = inflight.New(inflight.Config{
		Slots: cfg.Slots, MaxWaiting: cfg.MaxWaiting, MaxWait: cfg.MaxWait,
		Gradient: inflight.DefaultGradient(cfg.MaxInFlight), Share: l.lease,
	})
	go l.renew()
	return l
}

// Stats returns the attempts running and the tasks waiting in this worker.
func (l *WebhookLimits) Stats() inflight.Stats { return l.local.Stats() }

// Drain sends the tasks waiting for a slot back to the queue, and every
// later one that cannot start at once: call it when the worker begins to
// stop, so that waiting tasks do not hold up its shutdown.
func (l *WebhookLimits) Drain() { l.local.Drain() }

// Close stops renewing and returns this worker's shares.
func (l *WebhookLimits) Close() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
}

// leaseShare grants a worker a share of a webhook's cap: at most what it
// asks for and what the others do not hold; and, while more is asked for
// than the cap, no more than an even share, to which the others shrink when
// they renew. What a worker holds is its grant, but never less than the
// slots it says it is holding (attempts running above a shrunk share), so
// the holdings of all workers cover every running attempt and never add
// up to more than the cap. Expired shares (of workers that died) are
// dropped. Asking for nothing and holding nothing returns the share.
var leaseShare = redis.NewScript(`
local now, ttl, cap, demand, holding = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local entries = redis.call('HGETALL', KEYS[1])
local held, wanted, workers = 0, 0, 1
for i = 1, #entries, 2 do
  if entries[i] ~= ARGV[1] then
    local g, d, exp = string.match(entries[i+1], '^(%d+) (%d+) (%d+)$')
    if g == nil or tonumber(exp) <= now then
      redis.call('HDEL', KEYS[1], entries[i])
    else
      held, wanted, workers = held + tonumber(g), wanted + tonumber(d), workers + 1
    end
  end
end
if demand == 0 and holding == 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 0
end
local grant = math.min(demand, cap - held)
if demand + wanted > cap then
  grant = math.min(grant, math.max(1, math.floor(cap / workers)))
end
if grant < 0 then grant = 0 end
redis.call('HSET', KEYS[1], ARGV[1], math.max(grant, holding) .. ' ' .. demand .. ' ' .. (now + ttl))
redis.call('PEXPIRE', KEYS[1], 2 * ttl)
return grant`)

func leaseKey(webhookID string) string { return "trackelio:lease:{" + webhookID + "}" }
func probeKey(webhookID string) string { return "trackelio:probe:{" + webhookID + "}" }

// lease asks Redis for a share of the webhook's cap big enough for demand
// attempts, keeping holding slots whatever the grant, and returns the share
// granted.
func (l *WebhookLimits) lease(ctx context.Context, webhookID string, demand, holding int) (int, error) {
	got, err := leaseShare.Run(ctx, l.rdb, []string{leaseKey(webhookID)},
		l.worker, time.Now().UnixMilli(), l.cfg.LeaseTTL.Milliseconds(), l.cfg.MaxInFlight, demand, holding).Int()
	if err != nil {
		return 0, fmt.Errorf("lease in-flight slots: %w", err)
	}
	return got, nil
}

// renew keeps the shares of the webhooks in use, sized to what they need,
// and returns them when they fall idle or the WebhookLimits closes.
func (l *WebhookLimits) renew() {
	defer close(l.done)
	tick := time.NewTicker(l.cfg.LeaseTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			l.local.Renew(context.Background())
		case <-l.stop:
			if !l.crashed.Load() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				l.local.ReturnShares(ctx)
				cancel()
			}
			return
		}
	}
}

// Acquire takes an in-flight slot for the webhook within this worker's
// adaptive limit, fair share and lease, waiting in the worker while its
// turn is expected soon. Without a slot, release is nil and retryIn is when
// the task should run again from the queue. The slot is for the HTTP
// attempt only: release it as soon as the answer is in.
func (l *WebhookLimits) Acquire(ctx context.Context, webhookID string) (release inflight.Release, retryIn time.Duration, err error) {
	return l.local.Acquire(ctx, webhookID)
}

// BreakerWait is how long a delivery to a webhook with this many
// consecutive failures must wait before its attempt: 0 while the breaker is
// closed, and with it open 0 for the one delivery per probe interval that
// probes the endpoint, the time until the next probe for the others.
func (l *WebhookLimits) BreakerWait(ctx context.Context, webhookID string, consecutiveFailures int) (time.Duration, error) {
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
