package delivery

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// DefaultSchedule spreads nine retries over about three days, like the
// Standard Webhooks reference schedule.
const DefaultSchedule = "5s,5m,30m,2h,5h,10h,14h,20h,24h"

// maxScheduleLen keeps the schedule far below the task's retry backstop.
const maxScheduleLen = 100

// RetryPolicy says when a failed delivery is attempted again.
type RetryPolicy struct {
	// Schedule holds the delays before attempts 2, 3, ...
	Schedule []time.Duration
	// Jitter spreads each delay by ±Jitter of itself, so a receiver that
	// came back is not hit by every delivery at the same instant.
	Jitter float64
	// MinAfterThrottle is the least wait after a 429 or a timeout: the
	// receiver is overloaded, and hitting it soon makes that worse.
	MinAfterThrottle time.Duration
}

// Cap is the longest delay of the schedule; a receiver's Retry-After is
// honoured up to it.
func (p RetryPolicy) Cap() time.Duration { return slices.Max(p.Schedule) }

// After is the wait after failed attempt n given what the receiver said:
// at least its Retry-After (up to the cap), and at least MinAfterThrottle
// after a 429 or a timeout.
func (p RetryPolicy) After(n int, retryAfter time.Duration, throttled bool) time.Duration {
	d := max(p.Delay(n), min(retryAfter, p.Cap()))
	if throttled {
		d = max(d, p.MinAfterThrottle)
	}
	return d
}

// ParseSchedule parses a comma list of Go durations.
func ParseSchedule(s string) ([]time.Duration, error) {
	parts := strings.Split(s, ",")
	if len(parts) > maxScheduleLen {
		return nil, fmt.Errorf("retry schedule has %d entries, at most %d allowed", len(parts), maxScheduleLen)
	}
	out := make([]time.Duration, 0, len(parts))
	for i, p := range parts {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("retry schedule entry %d: %w", i+1, err)
		}
		if d <= 0 {
			return nil, fmt.Errorf("retry schedule entry %d: %s is not positive", i+1, d)
		}
		out = append(out, d)
	}
	return out, nil
}

// MustParseSchedule is ParseSchedule for a schedule written in the code,
// such as DefaultSchedule.
func MustParseSchedule(s string) []time.Duration {
	d, err := ParseSchedule(s)
	if err != nil {
		panic(err)
	}
	return d
}

// MaxAttempts is the number of attempts a delivery gets.
func (p RetryPolicy) MaxAttempts() int { return len(p.Schedule) + 1 }

// MaxAttemptsFor is the number of attempts a delivery of the event type
// gets: a test event's one, any other MaxAttempts.
func (p RetryPolicy) MaxAttemptsFor(eventType string) int {
	if IsTest(eventType) {
		return 1
	}
	return p.MaxAttempts()
}

// LastAttemptAround estimates when a delivery of the event type that has
// made made attempts, the next due at next, makes its last one if every
// attempt fails: the schedule's delays without jitter. A receiver's
// Retry-After, or a throttle, can only move it later.
func (p RetryPolicy) LastAttemptAround(next time.Time, made int, eventType string) time.Time {
	for n := made + 1; n < p.MaxAttemptsFor(eventType); n++ {
		next = next.Add(p.Schedule[min(n-1, len(p.Schedule)-1)])
	}
	return next
}

// Delay is the wait after a failed attempt number attempt (1-based) before
// the next one.
func (p RetryPolicy) Delay(attempt int) time.Duration {
	i := min(max(attempt-1, 0), len(p.Schedule)-1)
	d := p.Schedule[i]
	if p.Jitter > 0 {
		d = time.Duration(float64(d) * (1 + p.Jitter*(2*rand.Float64()-1)))
	}
	return d
}
