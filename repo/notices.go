package repo

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/trackelio/webhooks/internal/delivery"
)

// noticeBatch collects the notices a batch of attempts decides, written in
// the transaction that folds the health they were decided on.
type noticeBatch struct {
	ids, workspaces, webhooks, kinds, figures []string
	ats                                       []time.Time
	owners                                    []int // the attempt each notice is reported on
}

// decide applies the notice policy to one webhook's fold and returns the
// stage to store: a health notice when the stage climbs or clears, and a
// delivery.exhausted notice for each delivery that ran out of attempts.
func (n *noticeBatch) decide(l lockedHook, read, next delivery.Health, h *hookEvents, rs []AttemptResult) (delivery.Stage, error) {
	lastOwner := h.owners[len(h.owners)-1]
	policy, now := rs[h.owners[0]], rs[lastOwner].At
	for _, e := range h.events {
		if e.At.After(now) {
			now = e.At
		}
	}
	stage, notice := policy.Notices.Notify(l.NoticeStage, next, policy.AutoDisable, now)
	hook := delivery.NoticeWebhook{ID: l.ID, URL: l.URL, Description: l.Description}
	if notice != "" {
		if err := n.add(l, notice, lastOwner, now, healthFigures(hook, notice, read, next, lastFailure(h, rs), policy.AutoDisable)); err != nil {
			return "", err
		}
	}
	for _, i := range h.owners {
		r := rs[i]
		if r.NewStatus != delivery.StatusFailed || !l.ExhaustedHeard {
			continue
		}
		f := healthFigures(hook, delivery.NoticeExhausted, read, next, &r, policy.AutoDisable)
		f.Delivery = &delivery.NoticeDelivery{ID: r.DeliveryID, EventID: r.EventID, EventType: r.EventType, Attempts: r.Attempt,
			LastStatusCode: f.LastStatusCode, LastError: f.LastError, FinishedAt: r.At}
		if err := n.add(l, delivery.NoticeExhausted, i, r.At, f); err != nil {
			return "", err
		}
	}
	return stage, nil
}

// lastFailure is the webhook's latest failed attempt of the batch, nil when
// none failed.
func lastFailure(h *hookEvents, rs []AttemptResult) *AttemptResult {
	for j := len(h.events) - 1; j >= 0; j-- {
		if !h.events[j].Succeeded {
			return &rs[h.owners[j]]
		}
	}
	return nil
}

// healthFigures are a notice's figures: the health after the fold, or for
// webhook.recovered the streak that just ended, with the last failure's
// response when the batch holds one.
func healthFigures(hook delivery.NoticeWebhook, notice delivery.Notice, read, next delivery.Health, fail *AttemptResult, d delivery.AutoDisable) delivery.Figures {
	shown := next
	if notice == delivery.NoticeRecovered && next.Active && read.ConsecutiveFailures > 0 {
		shown.FailingSince, shown.ConsecutiveFailures = read.FailingSince, read.ConsecutiveFailures
	}
	f := delivery.Figures{
		Webhook: hook, State: string(next.State()), FailingSince: shown.FailingSince,
		ConsecutiveFailures: shown.ConsecutiveFailures, LastFailureAt: next.LastFailureAt, DisabledAt: next.DisabledAt,
	}
	if notice == delivery.NoticeAtRisk {
		f.State = string(delivery.StageAtRisk)
	}
	if next.DisabledReason != "" {
		f.DisabledReason = &next.DisabledReason
	}
	if at, ok := d.DisableAt(next); ok {
		f.DisableAt = &at
	}
	if fail != nil {
		if fail.StatusCode != 0 {
			f.LastStatusCode = &fail.StatusCode
		}
		if fail.Error != "" {
			f.LastError = &fail.Error
		}
		if fail.NewStatus == delivery.StatusPending && next.Active {
			f.NextAttemptAt = &fail.NextAttemptAt
		}
	}
	return f
}

func (n *noticeBatch) add(l lockedHook, notice delivery.Notice, owner int, at time.Time, f delivery.Figures) error {
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("notice id: %w", err)
	}
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode %s figures: %w", notice, err)
	}
	n.ids, n.workspaces, n.webhooks = append(n.ids, id.String()), append(n.workspaces, l.WorkspaceID), append(n.webhooks, l.ID)
	n.kinds, n.figures, n.ats, n.owners = append(n.kinds, string(notice)), append(n.figures, string(b)), append(n.ats, at), append(n.owners, owner)
	return nil
}

// insert stores the notices and reports each on its attempt.
func (n *noticeBatch) insert(ctx context.Context, q sqlx.ExecerContext, out []Recorded) error {
	if len(n.ids) == 0 {
		return nil
	}
	ats := make([]string, len(n.ats))
	for i, at := range n.ats {
		ats[i] = at.UTC().Format(time.RFC3339Nano)
	}
	if _, err := q.ExecContext(ctx, `
		INSERT INTO webhook_notices (id, workspace_id, webhook_id, kind, figures, created_at)
		SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::jsonb[], $6::timestamptz[])`,
		pq.StringArray(n.ids), pq.StringArray(n.workspaces), pq.StringArray(n.webhooks), pq.StringArray(n.kinds),
		pq.StringArray(n.figures), pq.StringArray(ats)); err != nil {
		return fmt.Errorf("store %d notices: %w", len(n.ids), err)
	}
	for i, o := range n.owners {
		out[o].Notices = append(out[o].Notices, n.ids[i])
	}
	return nil
}

// defaultNotifyOn is the notices a webhook mails unless told otherwise:
// the health notices, not one mail per exhausted delivery.
const defaultNotifyOn = `'{webhook.failing,webhook.at_risk,webhook.disabled,webhook.recovered}'::text[]`

// nullArray is a text array parameter, NULL for a nil slice (a field left
// alone) and '{}' for an empty one.
func nullArray(v []string) any {
	if v == nil {
		return nil
	}
	return pq.StringArray(v)
}

// reactivationNotice decides the notice of re-enabling a webhook: its
// streak is cleared, which a told streak reports as webhook.recovered,
// with the figures of the streak that ended. It returns the stage stored
// and the notices decided.
func reactivationNotice(ctx context.Context, tx *sqlx.Tx, row webhookRow, told delivery.Stage, began *time.Time, length int) (delivery.Stage, []string, error) {
	now := row.UpdatedAt
	next := row.health()
	// Clearing a streak does not depend on the thresholds that told it.
	stage, notice := delivery.NoticePolicy{FailingAfter: 1}.Notify(told, next, delivery.AutoDisable{}, now)
	if stage == told {
		return stage, nil, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE webhooks SET notice_stage = $2 WHERE id = $1`, row.ID, string(stage)); err != nil {
		return "", nil, fmt.Errorf("store notice stage: %w", err)
	}
	if notice == "" {
		return stage, nil, nil
	}
	read := next
	read.FailingSince, read.ConsecutiveFailures = began, length
	var n noticeBatch
	l := lockedHook{ID: row.ID, WorkspaceID: row.WorkspaceID, URL: row.URL, Description: row.Description}
	if err := n.add(l, notice, 0, now, healthFigures(delivery.NoticeWebhook{ID: row.ID, URL: row.URL, Description: row.Description},
		notice, read, next, nil, delivery.AutoDisable{})); err != nil {
		return "", nil, err
	}
	out := make([]Recorded, 1)
	if err := n.insert(ctx, tx, out); err != nil {
		return "", nil, err
	}
	return stage, out[0].Notices, nil
}

// addNotifyAddresses gives each notification address of the workspace
// that has none the token of its unsubscribe link.
func addNotifyAddresses(ctx context.Context, tx *sqlx.Tx, workspaceID string, addresses []string) error {
	if len(addresses) == 0 {
		return nil
	}
	tokens := make([]string, len(addresses))
	for i := range tokens {
		tokens[i] = rand.Text() // 128 random bits
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO notify_addresses (workspace_id, address, token)
		SELECT $1, a.address, a.token FROM unnest($2::text[], $3::text[]) AS a(address, token)
		ON CONFLICT (workspace_id, address) DO NOTHING`, workspaceID, pq.StringArray(addresses), pq.StringArray(tokens)); err != nil {
		return fmt.Errorf("store notification addresses: %w", err)
	}
	return nil
}

// Notice is a notice as stored: what was decided about which webhook, when,
// and on which figures.
type Notice struct {
	ID          string           `db:"id"`
	WorkspaceID string           `db:"workspace_id"`
	WebhookID   string           `db:"webhook_id"`
	Kind        delivery.Notice  `db:"kind"`
	Figures     delivery.Figures `db:"-"`
	CreatedAt   time.Time        `db:"created_at"`
	// DispatchedAt is when its operational event and mails were handed
	// on; nil until then.
	DispatchedAt *time.Time `db:"dispatched_at"`
}

// noticeRow is a Notice as noticeColumns read it.
type noticeRow struct {
	Notice
	RawFigures []byte `db:"figures"`
}

func (r noticeRow) notice() (Notice, error) {
	n := r.Notice
	if err := json.Unmarshal(r.RawFigures, &n.Figures); err != nil {
		return Notice{}, fmt.Errorf("decode figures of notice %s: %w", n.ID, err)
	}
	return n, nil
}

func notices(rows []noticeRow) ([]Notice, error) {
	ns := make([]Notice, len(rows))
	for i, r := range rows {
		var err error
		if ns[i], err = r.notice(); err != nil {
			return nil, err
		}
	}
	return ns, nil
}

const noticeColumns = `n.id, n.workspace_id, n.webhook_id, n.kind, n.figures, n.created_at, n.dispatched_at`

// WebhookNotices lists the notices decided about a webhook, newest first.
func (s *Store) WebhookNotices(ctx context.Context, workspaceID, webhookID string, limit int) ([]Notice, error) {
	var rows []noticeRow
	if err := s.db.SelectContext(ctx, &rows, `SELECT `+noticeColumns+` FROM webhook_notices n
		WHERE n.webhook_id = $1 AND n.workspace_id = $2 ORDER BY n.created_at DESC, n.id DESC LIMIT $3`,
		webhookID, workspaceID, limit); err != nil {
		return nil, fmt.Errorf("list notices: %w", err)
	}
	return notices(rows)
}

// NoticeDispatch is a notice with what dispatching it needs: its
// workspace and where its webhook's owners want it mailed.
type NoticeDispatch struct {
	Notice
	WorkspaceName string
	// Mail lists the webhook's notification addresses when it mails this
	// kind of notice.
	Mail []string
}

// NoticeToDispatch reads a notice for dispatch; ErrNotFound when there is
// none by that id.
func (s *Store) NoticeToDispatch(ctx context.Context, id string) (NoticeDispatch, error) {
	var row struct {
		noticeRow
		WorkspaceName string         `db:"workspace_name"`
		Mail          pq.StringArray `db:"mail"`
	}
	if err := s.getOne(ctx, &row, "get notice", `SELECT `+noticeColumns+`, ws.name AS workspace_name,
		CASE WHEN n.kind = ANY (w.notify_on) THEN w.notify_emails ELSE '{}' END AS mail
		FROM webhook_notices n JOIN webhooks w ON w.id = n.webhook_id JOIN workspaces ws ON ws.id = n.workspace_id
		WHERE n.id = $1`, id); err != nil {
		return NoticeDispatch{}, err
	}
	n, err := row.notice()
	if err != nil {
		return NoticeDispatch{}, err
	}
	return NoticeDispatch{Notice: n, WorkspaceName: row.WorkspaceName, Mail: row.Mail}, nil
}

// MarkNoticeDispatched queues the notice's mail to each of the addresses
// that is still subscribed, due at mailAt, and marks it dispatched, once:
// a second call queues nothing.
func (s *Store) MarkNoticeDispatched(ctx context.Context, id string, addresses []string, mailAt time.Time) error {
	_, err := s.db.ExecContext(ctx, `
		WITH n AS (
			UPDATE webhook_notices SET dispatched_at = now() WHERE id = $1 AND dispatched_at IS NULL
			RETURNING id, workspace_id)
		INSERT INTO notice_mails (notice_id, address, workspace_id, next_attempt_at)
		SELECT n.id, a.address, n.workspace_id, $3 FROM n
		JOIN notify_addresses a ON a.workspace_id = n.workspace_id AND a.address = ANY ($2::text[])
		ON CONFLICT DO NOTHING`, id, pq.StringArray(addresses), mailAt)
	if err != nil {
		return fmt.Errorf("mark notice %s dispatched: %w", id, err)
	}
	return nil
}

// UndispatchedNotices lists notices decided before before and not yet
// dispatched, oldest first: those whose dispatch a crash or a Redis outage
// lost.
func (s *Store) UndispatchedNotices(ctx context.Context, before time.Time, limit int) ([]string, error) {
	ids := []string{}
	if err := s.db.SelectContext(ctx, &ids, `SELECT id FROM webhook_notices
		WHERE dispatched_at IS NULL AND created_at < $1 ORDER BY created_at LIMIT $2`, before, limit); err != nil {
		return nil, fmt.Errorf("list undispatched notices: %w", err)
	}
	return ids, nil
}
