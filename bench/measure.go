//go:build bench

package bench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/lib/pq"
)

// waitDelivered waits until want deliveries of the given webhooks created
// since `since` are succeeded in PostgreSQL and verified by the receiver,
// and returns the moment it saw both. A delivery succeeds only after the
// receiver answered it, so PostgreSQL is polled every pollInterval only
// once the receiver has them all (and every dbCheckEvery before, for
// progress): polling a count over 20,000 rows 20 times a second would take
// a tenth of a core from the system being measured. The filter on webhook
// and creation time walks the history index, so a poll stays cheap on a
// database seeded with millions of older deliveries. It fails when a
// process died, a signature did not verify, or nothing moved for
// stallTimeout.
func waitDelivered(ctx context.Context, s *system, r *receiver, hooks []string, since time.Time, want int) (time.Time, error) {
	const dbCheckEvery = 5 * time.Second
	succeeded, received := -1, 0
	var lastDBCheck time.Time
	lastProgress := time.Now()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		now := time.Now()
		n := r.Deliveries()
		if n != received {
			received, lastProgress = n, now
		}
		if received >= want || now.Sub(lastDBCheck) >= dbCheckEvery {
			var count int
			err := s.db.QueryRowContext(ctx, `
				SELECT count(*) FROM deliveries
				WHERE webhook_id = ANY ($1) AND created_at >= $2 AND status = 'succeeded'`,
				pq.Array(hooks), since).Scan(&count)
			if err != nil {
				return time.Time{}, fmt.Errorf("count succeeded deliveries: %w", err)
			}
			if count != succeeded {
				succeeded, lastProgress = count, now
			}
			lastDBCheck = now
			if succeeded >= want && received >= want {
				return time.Now(), nil
			}
		}
		if err := r.Err(); err != nil {
			return time.Time{}, err
		}
		if err := s.dead(); err != nil {
			return time.Time{}, err
		}
		if now.Sub(lastProgress) > stallTimeout {
			return time.Time{}, fmt.Errorf("no progress for %v: %d of %d deliveries succeeded in PostgreSQL, %d received; %s",
				stallTimeout, succeeded, want, received, statusCounts(ctx, s, hooks, since))
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-tick.C:
		}
	}
}

// statusCounts describes the run's deliveries by status, for a stall report.
func statusCounts(ctx context.Context, s *system, hooks []string, since time.Time) string {
	rows, err := s.db.QueryContext(ctx, `
		SELECT status, count(*) FROM deliveries WHERE webhook_id = ANY ($1) AND created_at >= $2 GROUP BY status`,
		pq.Array(hooks), since)
	if err != nil {
		return "statuses unknown: " + err.Error()
	}
	defer rows.Close()
	out := "by status:"
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return "statuses unknown: " + err.Error()
		}
		out += fmt.Sprintf(" %s=%d", st, n)
	}
	return out
}

// latencies are accept → receipt times: from the 202 of an event's POST to
// the first arrival of each of its deliveries at the receiver.
type latencies struct {
	p50, p99, max time.Duration
	// early counts deliveries that arrived before their POST's answer did
	// (the api enqueues before it writes the 202); they count as zero.
	early int
}

func acceptToReceipt(accepts []accepted, receipts map[string]receipt) (latencies, error) {
	acceptedAt := make(map[string]time.Time, len(accepts))
	for _, a := range accepts {
		acceptedAt[a.eventID] = a.at
	}
	var l latencies
	ds := make([]time.Duration, 0, len(receipts))
	for id, rc := range receipts {
		at, ok := acceptedAt[rc.eventID]
		if !ok {
			return latencies{}, fmt.Errorf("delivery %s is of event %s, which the load generator never sent", id, rc.eventID)
		}
		d := rc.at.Sub(at)
		if d < 0 {
			l.early++
			d = 0
		}
		ds = append(ds, d)
	}
	l.p50, l.p99, l.max = percentile(ds, 50), percentile(ds, 99), percentile(ds, 100)
	return l, nil
}

// roundTrips are the POST /v1/events times: request sent to answer read.
func roundTrips(accepts []accepted) (p50, p99 time.Duration) {
	ds := make([]time.Duration, len(accepts))
	for i, a := range accepts {
		ds[i] = a.at.Sub(a.sent)
	}
	return percentile(ds, 50), percentile(ds, 99)
}

// percentile is the nearest-rank percentile p (0–100] of ds; it sorts ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	rank := int(math.Ceil(float64(len(ds))*p/100)) - 1
	return ds[min(max(rank, 0), len(ds)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
