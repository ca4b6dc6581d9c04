// Package endpointlimit decides whether a delivery attempt to a webhook
// endpoint may start now, across the whole worker fleet: per endpoint an
// adaptive in-flight limit and a fair share of this worker's slots (package
// inflight), a fleet-wide ceiling that the workers hold as shares leased
// in Redis, and a circuit breaker whose probes are paced through Redis.
// It is not the retry schedule, and it makes no HTTP call: the caller
// attempts, then releases the slot with how the attempt went.
package endpointlimit

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trackelio/webhooks/internal/inflight"
)

// Config sets the per-endpoint limits shared by every worker replica.
type Config struct {
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

// Limits limits attempts per webhook. Each worker keeps an adaptive limit
// per webhook and its waiting tasks (inflight.Limiter), and leases a share
// of the webhook's cap from Redis, renewing it in the background: attempts
// themselves touch no shared state, and the shares never add up to more
// than the cap. The circuit breaker's probes are in Redis too. Close it to
// return the shares.
type Limits struct {
	rdb    redis.UniversalClient
	cfg    Config
	worker string // this process's name in the leases
	local  *inflight.Limiter
	stop   chan struct{}
	done   chan struct{}
}

// New builds the limits on a go-redis client and starts renewing the
// shares.
func New(rdb redis.UniversalClient, cfg Config) *Limits {
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 3 * time.Second
	}
	b := make([]byte, 8)
	crand.Read(b)
	l := &Limits{rdb: rdb, cfg: cfg, worker: hex.EncodeToString(b), stop: make(chan struct{}), done: make(chan struct{})}
	l.local = inflight.New(inflight.Config{
		Slots: cfg.Slots, MaxWaiting: cfg.MaxWaiting, MaxWait: cfg.MaxWait,
		Gradient: inflight.DefaultGradient(cfg.MaxInFlight), Share: l.lease,
	})
	go l.renew()
	return l
}

// Stats returns the attempts running and the tasks waiting in this worker.
func (l *Limits) Stats() inflight.Stats { return l.local.Stats() }

// Drain sends the tasks waiting for a slot back to the queue, and every
// later one that cannot start at once: call it when the worker begins to
// stop, so that waiting tasks do not hold up its shutdown.
func (l *Limits) Drain() { l.local.Drain() }

// Close stops renewing and returns this worker's shares.
func (l *Limits) Close() {
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

// lease asks Redis for a share of the webhook's cap big enough for demand
// attempts, keeping holding slots whatever the grant, and returns the share
// granted.
func (l *Limits) lease(ctx context.Context, webhookID string, demand, holding int) (int, error) {
	got, err := leaseShare.Run(ctx, l.rdb, []string{leaseKey(webhookID)},
		l.worker, time.Now().UnixMilli(), l.cfg.LeaseTTL.Milliseconds(), l.cfg.MaxInFlight, demand, holding).Int()
	if err != nil {
		return 0, fmt.Errorf("lease in-flight slots: %w", err)
	}
	return got, nil
}

// renew keeps the shares of the webhooks in use, sized to what they need,
// and returns them when they fall idle or the Limits closes.
func (l *Limits) renew() {
	defer close(l.done)
	tick := time.NewTicker(l.cfg.LeaseTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			l.local.Renew(context.Background())
		case <-l.stop:
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			l.local.ReturnShares(ctx)
			cancel()
			return
		}
	}
}

// Acquire takes an in-flight slot for the webhook within this worker's
// adaptive limit, fair share and lease, waiting in the worker while its
// turn is expected soon. Without a slot, release is nil and retryIn is when
// the task should run again from the queue. The slot is for the HTTP
// attempt only: release it as soon as the answer is in.
func (l *Limits) Acquire(ctx context.Context, webhookID string) (release inflight.Release, retryIn time.Duration, err error) {
	return l.local.Acquire(ctx, webhookID)
}
