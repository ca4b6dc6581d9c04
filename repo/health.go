package repo

import (
	"time"

	"github.com/trackelio/webhooks/delivery"
)

// healthRow is a webhook's health as stored in its row; delivery.Health
// is the same, free of column names.
type healthRow struct {
	Active              bool       `db:"active"`
	FailureCount        int64      `db:"failure_count"`
	ConsecutiveFailures int        `db:"consecutive_failures"`
	LastSuccessAt       *time.Time `db:"last_success_at"`
	LastFailureAt       *time.Time `db:"last_failure_at"`
	FailingSince        *time.Time `db:"failing_since"`
	DisabledReason      string     `db:"disabled_reason"`
	DisabledAt          *time.Time `db:"disabled_at"`
}

func (r healthRow) health() delivery.Health { return delivery.Health(r) }

// healthColumns read a webhook w's health as healthRow scans it.
const healthColumns = `w.active, w.failure_count, w.consecutive_failures, w.last_success_at, w.last_failure_at,
	w.failing_since, coalesce(w.disabled_reason, '') AS disabled_reason, w.disabled_at`

// lastSuccessSlack is how stale LastSuccessAt may be: a healthy webhook's
// row is written at most once a second by successes alone, so a busy
// endpoint's attempts do not all write the same row.
const lastSuccessSlack = time.Second

// worthWriting says whether the new health must be stored: any change but
// a LastSuccessAt less than lastSuccessSlack newer than the stored one.
func worthWriting(old, new delivery.Health) bool {
	if old.LastSuccessAt != nil && new.LastSuccessAt != nil && new.LastSuccessAt.Sub(*old.LastSuccessAt) < lastSuccessSlack {
		new.LastSuccessAt = old.LastSuccessAt
	}
	return !old.Equal(new)
}
