package delivery

import "time"

// Health is a webhook's delivery health: the counters and the failure streak
// the API and the dashboard show, and whether it is disabled.
type Health struct {
	Active              bool
	FailureCount        int64
	ConsecutiveFailures int
	LastSuccessAt       *time.Time
	LastFailureAt       *time.Time
	// FailingSince is the first failure after the last success: the
	// streak's age decides auto-disable.
	FailingSince   *time.Time
	DisabledReason string // "" while not disabled
	DisabledAt     *time.Time
}

// AutoDisable is the policy for giving up on a failing endpoint: a webhook
// is disabled when a failure extends a streak of at least MinFailures that
// began at least After ago. MinFailures 0 never disables.
type AutoDisable struct {
	After       time.Duration
	MinFailures int
}

// HealthEvent is one stored attempt as the health sees it.
type HealthEvent struct {
	At        time.Time
	Succeeded bool
	// DisableReason, on a failure, disables at once (DisabledGone).
	DisableReason string
}

// Apply folds attempts, given in time order, into the health and returns the
// new health and the index of the attempt that disabled the webhook (-1 when
// none did). It is the one rule for webhook health: counters, streak,
// timestamps, auto-disable and forced disabling. Attempts of concurrent
// workers may be stored out of time order, so timestamps only move forward.
func (h Health) Apply(events []HealthEvent, p AutoDisable) (Health, int) {
	disabledBy := -1
	for i, e := range events {
		at := e.At
		if e.Succeeded {
			h.ConsecutiveFailures, h.FailingSince = 0, nil
			h.LastSuccessAt = later(h.LastSuccessAt, at)
			continue
		}
		h.FailureCount++
		h.ConsecutiveFailures++
		h.LastFailureAt = later(h.LastFailureAt, at)
		if h.FailingSince == nil || at.Before(*h.FailingSince) {
			h.FailingSince = &at
		}
		if h.Active && (e.DisableReason != "" || p.due(h, at)) {
			h.Active, h.DisabledReason, h.DisabledAt = false, e.DisableReason, &at
			if h.DisabledReason == "" {
				h.DisabledReason = DisabledFailing
			}
			disabledBy = i
		}
	}
	return h, disabledBy
}

// due says whether the streak, extended by a failure at at, disables.
func (p AutoDisable) due(h Health, at time.Time) bool {
	return p.MinFailures > 0 && h.ConsecutiveFailures >= p.MinFailures && !h.FailingSince.After(at.Add(-p.After))
}

// Equal says whether two healths are the same, times compared as instants.
func (h Health) Equal(o Health) bool {
	return h.Active == o.Active && h.FailureCount == o.FailureCount && h.ConsecutiveFailures == o.ConsecutiveFailures &&
		sameTime(h.LastSuccessAt, o.LastSuccessAt) && sameTime(h.LastFailureAt, o.LastFailureAt) &&
		sameTime(h.FailingSince, o.FailingSince) && h.DisabledReason == o.DisabledReason && sameTime(h.DisabledAt, o.DisabledAt)
}

// State is how a webhook's health reads at a glance.
type State string

// Health states. Issue-level notices (failing, at risk, recovered) are
// transitions between these.
const (
	// Healthy: active, and the last attempt succeeded (or none failed).
	Healthy State = "healthy"
	// Failing: active, with a failure streak under way.
	Failing State = "failing"
	// Disabled: switched off, by the customer (no reason) or by the
	// service (DisabledGone, DisabledFailing).
	Disabled State = "disabled"
)

// State says how the health reads at a glance.
func (h Health) State() State {
	switch {
	case !h.Active:
		return Disabled
	case h.ConsecutiveFailures > 0:
		return Failing
	default:
		return Healthy
	}
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// later is the later of a stored time and t.
func later(stored *time.Time, t time.Time) *time.Time {
	if stored != nil && stored.After(t) {
		return stored
	}
	return &t
}
