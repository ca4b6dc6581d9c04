package repo

import (
	"time"
)

// WebhookHealth is a webhook's delivery health: the counters and the failure
// streak the API and the dashboard show, and whether it is disabled.
type WebhookHealth struct {
	Active              bool       `db:"active"`
	FailureCount        int64      `db:"failure_count"`
	ConsecutiveFailures int        `db:"consecutive_failures"`
	LastSuccessAt       *time.Time `db:"last_success_at"`
	LastFailureAt       *time.Time `db:"last_failure_at"`
	// FailingSince is the first failure after the last success: the
	// streak's age decides auto-disable.
	FailingSince   *time.Time `db:"failing_since"`
	DisabledReason string     `db:"disabled_reason"` // "" while not disabled
	DisabledAt     *time.Time `db:"disabled_at"`
}

// AutoDisable is the policy for giving up on a failing endpoint: a webhook
// is disabled when a failure extends a streak of at least MinFailures that
// began at least After ago. MinFailures 0 never disables.
type AutoDisable struct {
	After       time.Duration
	MinFailures int
}

// healthEvent is one stored attempt as the fold sees it.
type healthEvent struct {
	at        time.Time
	succeeded bool
	// disable, on a failure, disables at once (for example "gone").
	disable string
}

// lastSuccessSlack is how stale LastSuccessAt may be: a healthy webhook's
// row is written at most once a second by successes alone, so a busy
// endpoint's attempts do not all write the same row.
const lastSuccessSlack = time.Second

// fold applies stored attempts, given in time order, to the health and
// returns the new health and the index of the attempt that disabled the
// webhook (-1 when none did). It is the one rule for webhook health:
// counters, streak, timestamps, auto-disable and forced disabling.
func (h WebhookHealth) fold(events []healthEvent, p AutoDisable) (WebhookHealth, int) {
	disabledBy := -1
	for i, e := range events {
		at := e.at
		if e.succeeded {
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
		streakDue := p.MinFailures > 0 && h.ConsecutiveFailures >= p.MinFailures && !h.FailingSince.After(at.Add(-p.After))
		if h.Active && (e.disable != "" || streakDue) {
			h.Active, h.DisabledReason, h.DisabledAt = false, e.disable, &at
			if h.DisabledReason == "" {
				h.DisabledReason = "failing"
			}
			disabledBy = i
		}
	}
	return h, disabledBy
}

// worthWriting says whether the new health must be stored: any change but
// a LastSuccessAt less than lastSuccessSlack newer than the stored one.
func worthWriting(old, new WebhookHealth) bool {
	if old.LastSuccessAt != nil && new.LastSuccessAt != nil && new.LastSuccessAt.Sub(*old.LastSuccessAt) < lastSuccessSlack {
		new.LastSuccessAt = old.LastSuccessAt
	}
	return !old.equal(new)
}

func (h WebhookHealth) equal(o WebhookHealth) bool {
	return h.Active == o.Active && h.FailureCount == o.FailureCount && h.ConsecutiveFailures == o.ConsecutiveFailures &&
		sameTime(h.LastSuccessAt, o.LastSuccessAt) && sameTime(h.LastFailureAt, o.LastFailureAt) &&
		sameTime(h.FailingSince, o.FailingSince) && h.DisabledReason == o.DisabledReason && sameTime(h.DisabledAt, o.DisabledAt)
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// later is the later of a stored time and t; attempts of concurrent
// workers may be recorded out of time order.
func later(stored *time.Time, t time.Time) *time.Time {
	if stored != nil && stored.After(t) {
		return stored
	}
	return &t
}
