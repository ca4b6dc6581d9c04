package repo

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/trackelio/webhooks/internal/delivery"
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

// foldHealth folds the stored attempts into each webhook's health and
// writes the webhooks whose health changed, marking in out which attempts
// were stored and which disabled their webhook.
func (s *Store) foldHealth(ctx context.Context, tx *sqlx.Tx, rs []AttemptResult, first map[string]int, stored []recordedRow, out []Recorded) error {
	hooks := map[string]*hookEvents{}
	var order []string
	for _, row := range stored {
		i := first[row.DeliveryID]
		out[i].Stored = true
		r := rs[i]
		if r.ExcludeFromHealth {
			continue
		}
		h := hooks[row.WebhookID]
		if h == nil {
			h = &hookEvents{read: row.health()}
			hooks[row.WebhookID] = h
			order = append(order, row.WebhookID)
		}
		h.events = append(h.events, delivery.HealthEvent{At: r.At, Succeeded: r.Succeeded, DisableReason: r.DisableReason})
		h.owners = append(h.owners, i)
	}
	// Only the webhooks whose health changes are locked and written; the
	// fold is repeated on the locked row, which may have moved since it was
	// read.
	var changed []string
	for _, id := range order {
		h := hooks[id]
		h.sortByTime()
		if next, _ := h.read.Apply(h.events, rs[h.owners[0]].AutoDisable); worthWriting(h.read, next) {
			changed = append(changed, id)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	slices.Sort(changed)
	var locked []lockedHook
	if err := tx.SelectContext(ctx, &locked, `SELECT w.id, w.workspace_id, w.url, w.description, w.notice_stage,
		ws.operational, `+healthColumns+`, `+exhaustedHeard+` AS exhausted_heard
		FROM webhooks w JOIN workspaces ws ON ws.id = w.workspace_id
		WHERE w.id = ANY($1::uuid[]) ORDER BY w.id FOR NO KEY UPDATE OF w`, pq.StringArray(changed)); err != nil {
		return fmt.Errorf("lock webhook health: %w", err)
	}
	var u healthUpdate
	var notices noticeBatch
	for _, l := range locked {
		h := hooks[l.ID]
		read := l.health()
		events, autoDisable := h.events, rs[h.owners[0]].AutoDisable
		if l.Operational {
			events, autoDisable = keepEnabled(events), delivery.AutoDisable{}
		}
		next, disabledBy := read.Apply(events, autoDisable)
		if disabledBy >= 0 {
			out[h.owners[disabledBy]].Disabled = true
		}
		stage := l.NoticeStage
		if !l.Operational { // an operational webhook's trouble is the operator's metrics' to tell
			var err error
			if stage, err = notices.decide(l, read, next, h, rs); err != nil {
				return err
			}
		}
		if !read.Equal(next) || stage != l.NoticeStage {
			u.add(l.ID, next, stage)
		}
	}
	if err := u.exec(ctx, tx); err != nil {
		return err
	}
	return notices.insert(ctx, tx, out)
}

// lockedHook is a webhook whose health a batch changes, as locked for the
// write: its health, and what its notices need.
type lockedHook struct {
	ID          string         `db:"id"`
	WorkspaceID string         `db:"workspace_id"`
	URL         string         `db:"url"`
	Description string         `db:"description"`
	NoticeStage delivery.Stage `db:"notice_stage"`
	Operational bool           `db:"operational"`
	// ExhaustedHeard says someone listens for its delivery.exhausted
	// notices: an address it mails them to, or an operational webhook.
	ExhaustedHeard bool `db:"exhausted_heard"`
	healthRow
}

// exhaustedHeard is lockedHook.ExhaustedHeard for a webhook w. A delivery
// that gives up is in the webhook's history either way; a notice nobody
// gets would only cost a row and a task per failed delivery, which a dead
// endpoint makes by the thousand.
const exhaustedHeard = `(('delivery.exhausted' = ANY (w.notify_on) AND cardinality(w.notify_emails) > 0)
	OR EXISTS (SELECT 1 FROM webhooks o JOIN workspaces ows ON ows.id = o.workspace_id AND ows.operational
	           WHERE o.deleted_at IS NULL AND 'delivery.exhausted' = ANY (o.events)))`

// keepEnabled is events without the disabling: the operator's endpoint
// for operational webhooks is never disabled (the notices would have
// nowhere to go); its failures are the operator's alerts' to tell.
func keepEnabled(events []delivery.HealthEvent) []delivery.HealthEvent {
	out := slices.Clone(events)
	for i := range out {
		out[i].DisableReason = ""
	}
	return out
}

// hookEvents are one webhook's stored attempts of a batch.
type hookEvents struct {
	read   delivery.Health // as the batch's statement read it
	events []delivery.HealthEvent
	owners []int // the index in the batch of each event
}

// sortByTime puts the events, and their owners with them, in time order, as
// fold takes them.
func (h *hookEvents) sortByTime() {
	idx := make([]int, len(h.events))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return h.events[a].At.Compare(h.events[b].At) })
	events, owners := make([]delivery.HealthEvent, len(idx)), make([]int, len(idx))
	for i, j := range idx {
		events[i], owners[i] = h.events[j], h.owners[j]
	}
	h.events, h.owners = events, owners
}

// healthUpdate writes new health to webhooks, many in one statement.
type healthUpdate struct {
	ids, reasons, stages                 []string
	active                               []bool
	failures, streaks                    []int64
	successes, failed, since, disabledAt []string
}

func (u *healthUpdate) add(id string, h delivery.Health, stage delivery.Stage) {
	u.stages = append(u.stages, string(stage))
	u.ids, u.active, u.failures, u.streaks = append(u.ids, id), append(u.active, h.Active), append(u.failures, h.FailureCount), append(u.streaks, int64(h.ConsecutiveFailures))
	u.successes, u.failed, u.since = append(u.successes, timeText(h.LastSuccessAt)), append(u.failed, timeText(h.LastFailureAt)), append(u.since, timeText(h.FailingSince))
	u.reasons, u.disabledAt = append(u.reasons, h.DisabledReason), append(u.disabledAt, timeText(h.DisabledAt))
}

func (u *healthUpdate) exec(ctx context.Context, tx *sqlx.Tx) error {
	if len(u.ids) == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `
		UPDATE webhooks w SET active = n.active, failure_count = n.failure_count, consecutive_failures = n.streak,
		       last_success_at = nullif(n.success, '')::timestamptz, last_failure_at = nullif(n.failure, '')::timestamptz,
		       failing_since = nullif(n.since, '')::timestamptz, disabled_reason = nullif(n.reason, ''),
		       disabled_at = nullif(n.disabled_at, '')::timestamptz, notice_stage = n.stage
		FROM unnest($1::uuid[], $2::bool[], $3::bigint[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
		     AS n(id, active, failure_count, streak, success, failure, since, reason, disabled_at, stage)
		WHERE w.id = n.id`,
		pq.StringArray(u.ids), pq.BoolArray(u.active), pq.Int64Array(u.failures), pq.Int64Array(u.streaks),
		pq.StringArray(u.successes), pq.StringArray(u.failed), pq.StringArray(u.since), pq.StringArray(u.reasons), pq.StringArray(u.disabledAt), pq.StringArray(u.stages))
	if err != nil {
		return fmt.Errorf("write webhook health: %w", err)
	}
	return nil
}

// timeText is a nullable time as the text arrays carry it ("" for NULL).
func timeText(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
