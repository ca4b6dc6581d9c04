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

// FairnessConfig sets the per-webhook limits shared by every worker replica.
type FairnessConfig struct {
	// MaxInFlight caps concurrent attempts to one webhook, so one slow
	// endpoint cannot hold every worker slot.
	MaxInFlight int
	// SlotTTL frees the slot of a worker that died mid-attempt.
	SlotTTL time.Duration
	// BreakerThreshold opens the breaker after this many consecutive
	// failures; zero turns the breaker off.
	BreakerThreshold int
	// ProbeInterval is how often one delivery may probe an open breaker.
	ProbeInterval time.Duration
}

// Fairness limits attempts per webhook: an adaptive limit in this worker,
// under a cap that every worker shares through Redis, and the circuit
// breaker's probes, also in Redis.
type Fairness struct {
	rdb   redis.UniversalClient
	cfg   FairnessConfig
	local *limiter
}

// NewFairness builds the limits on a go-redis client.
func NewFairness(rdb redis.UniversalClient, cfg FairnessConfig) *Fairness {
	return &Fairness{rdb: rdb, cfg: cfg, local: newLimiter(cfg.MaxInFlight, time.Now)}
}

// acquireSlot is a sorted set of slot tokens scored by their expiry: expired
// slots are dropped before counting, so a crashed worker's slot frees itself.
var acquireSlot = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0`)

func slotKey(webhookID string) string  { return "trackelio:inflight:{" + webhookID + "}" }
func probeKey(webhookID string) string { return "trackelio:probe:{" + webhookID + "}" }

// Release gives an in-flight slot back after an attempt that took d;
// congested says the endpoint struggled, which shrinks its limit. A second
// call does nothing.
type Release func(d time.Duration, congested bool)

// Acquire takes an in-flight slot for the webhook: one of this worker's
// adaptive limit, waiting in process briefly while the endpoint answers
// fast, then one of the cap shared by every worker. Without a free slot it
// returns ok=false and the caller reschedules the task shortly. The slot is
// for the HTTP attempt only: release it as soon as the answer is in.
func (f *Fairness) Acquire(ctx context.Context, webhookID string) (release Release, ok bool, err error) {
	if !f.local.acquire(ctx, webhookID) {
		return nil, false, nil
	}
	b := make([]byte, 8)
	crand.Read(b)
	token := hex.EncodeToString(b)
	now := time.Now()
	got, err := acquireSlot.Run(ctx, f.rdb, []string{slotKey(webhookID)},
		now.UnixMilli(), now.Add(f.cfg.SlotTTL).UnixMilli(), f.cfg.MaxInFlight, token, f.cfg.SlotTTL.Milliseconds()).Int()
	if err != nil || got == 0 {
		f.local.cancel(webhookID)
		if err != nil {
			return nil, false, fmt.Errorf("acquire in-flight slot: %w", err)
		}
		return nil, false, nil
	}
	var once sync.Once
	return func(d time.Duration, congested bool) {
		once.Do(func() {
			f.local.release(webhookID, d, congested)
			// Released even when the task's context is done: an unreleased
			// slot would block the webhook until it expires.
			f.rdb.ZRem(context.WithoutCancel(ctx), slotKey(webhookID), token)
		})
	}, true, nil
}

// Probe decides whether a delivery to a webhook with this many consecutive
// failures may go ahead. With the breaker open, one delivery per probe
// interval goes ahead; the others get how long to wait.
func (f *Fairness) Probe(ctx context.Context, webhookID string, consecutiveFailures int) (time.Duration, error) {
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
