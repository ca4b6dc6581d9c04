package jobs

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// WebhookLimitsConfig sets the per-webhook limits shared by every worker replica.
type WebhookLimitsConfig struct {
	// MaxInFlight caps concurrent attempts to one webhook across all
	// workers, so one slow endpoint cannot hold every worker slot.
	MaxInFlight int
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
// per webhook and leases a share of the webhook's cap from Redis, renewing
// it in the background: attempts themselves touch no shared state, and the
// shares never add up to more than the cap. The circuit breaker's probes
// are in Redis too. Close it to return the shares.
type WebhookLimits struct {
	rdb    redis.UniversalClient
	cfg    WebhookLimitsConfig
	worker string // this process's name in the leases
	local  *limiter
	stop   chan struct{}
	done   chan struct{}
}

// NewWebhookLimits builds the limits on a go-redis client and starts renewing
// the shares.
func NewWebhookLimits(rdb redis.UniversalClient, cfg WebhookLimitsConfig) *WebhookLimits {
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 3 * time.Second
	}
	b := make([]byte, 8)
	crand.Read(b)
	f := &WebhookLimits{rdb: rdb, cfg: cfg, worker: hex.EncodeToString(b), stop: make(chan struct{}), done: make(chan struct{})}
	f.local = newLimiter(cfg.MaxInFlight, time.Now)
	f.local.share = f.lease
	go f.renew()
	return f
}

// Close stops renewing and returns this worker's shares.
func (f *WebhookLimits) Close() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	<-f.done
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
func (f *WebhookLimits) lease(ctx context.Context, webhookID string, demand, holding int) (int, error) {
	got, err := leaseShare.Run(ctx, f.rdb, []string{leaseKey(webhookID)},
		f.worker, time.Now().UnixMilli(), f.cfg.LeaseTTL.Milliseconds(), f.cfg.MaxInFlight, demand, holding).Int()
	if err != nil {
		return 0, fmt.Errorf("lease in-flight slots: %w", err)
	}
	return got, nil
}

// renew keeps the shares of the webhooks in use, sized to what they need,
// and returns them when they fall idle or the WebhookLimits closes.
func (f *WebhookLimits) renew() {
	defer close(f.done)
	tick := time.NewTicker(f.cfg.LeaseTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			f.local.renew(context.Background())
		case <-f.stop:
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			f.local.returnShares(ctx)
			cancel()
			return
		}
	}
}

// Release gives an in-flight slot back after an attempt that took d;
// congested says the endpoint struggled, which shrinks its limit. A second
// call does nothing.
type Release func(d time.Duration, congested bool)

// Acquire takes an in-flight slot for the webhook within this worker's
// adaptive limit and share, waiting in process briefly while the endpoint
// answers fast. Without a free slot it returns ok=false and the caller
// reschedules the task shortly. The slot is for the HTTP attempt only:
// release it as soon as the answer is in.
func (f *WebhookLimits) Acquire(ctx context.Context, webhookID string) (release Release, ok bool, err error) {
	ok, err = f.local.acquire(ctx, webhookID)
	if err != nil || !ok {
		return nil, false, err
	}
	var once sync.Once
	return func(d time.Duration, congested bool) {
		once.Do(func() { f.local.release(webhookID, d, congested) })
	}, true, nil
}

// BreakerWait is how long a delivery to a webhook with this many
// consecutive failures must wait before its attempt: 0 while the breaker is
// closed, and with it open 0 for the one delivery per probe interval that
// probes the endpoint, the time until the next probe for the others.
func (f *WebhookLimits) BreakerWait(ctx context.Context, webhookID string, consecutiveFailures int) (time.Duration, error) {
	if f.cfg.BreakerThreshold <= 0 || consecutiveFailures < f.cfg.BreakerThreshold {
		return 0, nil
	}
	won, err := f.rdb.SetNX(ctx, probeKey(webhookID), "1", f.cfg.ProbeInterval).Result()
	if err != nil {
		return 0, fmt.Errorf("breaker probe: %w", err)
	}
	if won {
		return 0, nil
	}
	ttl, err := f.rdb.PTTL(ctx, probeKey(webhookID)).Result()
	if err != nil {
		return 0, fmt.Errorf("breaker probe ttl: %w", err)
	}
	// Spread the waiters so they do not all race for the next probe.
	return max(ttl, 0) + time.Duration(rand.Int64N(int64(f.cfg.ProbeInterval/10)+1)), nil
}

// SlotWait is how long a task that found no free slot waits before trying
// again: short, jittered so waiting tasks do not retry in lockstep.
func SlotWait() time.Duration {
	return 200*time.Millisecond + time.Duration(rand.Int64N(int64(300*time.Millisecond)))
}
