package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// A worker that dies (SIGKILL, OOM, a lost node) leaves its tasks "active"
// in Redis. asynq gives them back only after their 30 s lease has run out,
// plus 30 s, at its recoverer's next run once a minute: one to two minutes
// in which those deliveries stand still, and the outbox sweep cannot help
// (their task ids are taken). A live worker's heartbeat extends the lease
// of every task it runs every 5 s, so a lease not extended for a few beats
// means its worker is gone. The orphan recoverer puts such tasks back at
// the head of their queue. Were the worker only stalled, the task runs
// twice, which at-least-once allows and the stored attempt count keeps
// from counting twice.

// asynqLease is how far ahead asynq sets a lease at each extension (its
// internal rdb.LeaseDuration).
const asynqLease = 30 * time.Second

// OrphanConfig tunes the orphan recoverer.
type OrphanConfig struct {
	// After is how long a lease may go unextended before its task counts as
	// orphaned: asynq's heartbeat beats every 5 s, so 12 s is two missed
	// beats and slack for a busy machine.
	After time.Duration
	// Interval is how often the queues are checked.
	Interval time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// OrphanRecoverer gives the tasks of dead workers back to their queues.
type OrphanRecoverer struct {
	rdb       redis.UniversalClient
	cfg       OrphanConfig
	recovered prometheus.Counter
	log       *slog.Logger
}

// NewOrphanRecoverer builds a recoverer; recovered counts the tasks it put
// back.
func NewOrphanRecoverer(rdb redis.UniversalClient, cfg OrphanConfig, recovered prometheus.Counter, log *slog.Logger) *OrphanRecoverer {
	if cfg.After <= 0 {
		cfg.After = 12 * time.Second
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &OrphanRecoverer{rdb: rdb, cfg: cfg, recovered: recovered, log: log}
}

// Run checks every Interval until ctx ends. Several replicas may run it:
// each task is moved by one atomic script, once.
func (o *OrphanRecoverer) Run(ctx context.Context) {
	tick := time.NewTicker(o.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := o.Recover(ctx); err != nil {
				o.log.WarnContext(ctx, "orphan recovery failed; trying again", "error", err)
			}
		}
	}
}

// requeueOrphans moves the active tasks of one queue whose lease expires
// before ARGV[2] (unix seconds) back to the front of its pending list, as
// asynq's own enqueue leaves a pending task.
var requeueOrphans = redis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[2])
local n = 0
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[2], id)
  if redis.call('LREM', KEYS[1], 0, id) > 0 then
    redis.call('HSET', ARGV[1] .. id, 'state', 'pending', 'pending_since', ARGV[3])
    redis.call('RPUSH', KEYS[3], id)
    n = n + 1
  end
end
return n`)

// Recover puts back every orphaned task of the worker's queues and returns
// how many it moved.
func (o *OrphanRecoverer) Recover(ctx context.Context) (int, error) {
	now := o.cfg.Now()
	cutoff := now.Add(asynqLease - o.cfg.After).Unix()
	total := 0
	for _, q := range slices.Sorted(maps.Keys(queueWeights)) {
		prefix := "asynq:{" + q + "}:"
		n, err := requeueOrphans.Run(ctx, o.rdb, []string{prefix + "active", prefix + "lease", prefix + "pending"},
			prefix+"t:", cutoff, now.UnixNano()).Int()
		if err != nil {
			return total, fmt.Errorf("recover orphaned tasks of queue %s: %w", q, err)
		}
		if n > 0 {
			o.log.WarnContext(ctx, "recovered tasks of a worker that stopped without finishing them", "queue", q, "tasks", n)
			o.recovered.Add(float64(n))
		}
		total += n
	}
	return total, nil
}
