package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// MailStatus is where one notice's mail to one address stands.
type MailStatus string

// Mail statuses.
const (
	MailPending MailStatus = "pending"
	MailSent    MailStatus = "sent"
	// MailFailed gave up: the relay refused it for good, or kept failing.
	MailFailed MailStatus = "failed"
	// MailDropped was not sent: the address unsubscribed first.
	MailDropped MailStatus = "dropped"
)

// Mail is the notices due to one address of a workspace, claimed to be
// sent together: one mail, a digest when there are several.
type Mail struct {
	WorkspaceID   string
	WorkspaceName string
	Address       string
	// UnsubscribeToken is the token of the address's unsubscribe link.
	UnsubscribeToken string
	// Attempts is how many times this mail was tried before.
	Attempts int
	Notices  []Notice
}

// ClaimMails takes the workspace's mails due at now and not yet sent, one
// per address, and hides them from other claims until now+lease: a worker
// that dies while sending leaves them to be claimed again then. A mail to
// an address that unsubscribed meanwhile is dropped.
func (s *Store) ClaimMails(ctx context.Context, workspaceID string, now time.Time, lease time.Duration) ([]Mail, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("claim mails: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after commit
	if _, err := tx.ExecContext(ctx, `
		UPDATE notice_mails m SET status = 'dropped', next_attempt_at = $2
		WHERE m.workspace_id = $1 AND m.status = 'pending'
		  AND NOT EXISTS (SELECT 1 FROM notify_addresses a WHERE a.workspace_id = m.workspace_id AND a.address = m.address)`,
		workspaceID, now); err != nil {
		return nil, fmt.Errorf("drop unsubscribed mails: %w", err)
	}
	var rows []struct {
		noticeRow
		Address       string `db:"address"`
		Token         string `db:"token"`
		Attempts      int    `db:"attempts"`
		WorkspaceName string `db:"workspace_name"`
	}
	if err := tx.SelectContext(ctx, &rows, `
		WITH c AS (
			UPDATE notice_mails m SET next_attempt_at = $3
			WHERE (m.notice_id, m.address) IN (
				SELECT notice_id, address FROM notice_mails
				WHERE workspace_id = $1 AND status = 'pending' AND next_attempt_at <= $2
				ORDER BY notice_id FOR UPDATE SKIP LOCKED)
			RETURNING m.notice_id, m.address, m.attempts)
		SELECT `+noticeColumns+`, c.address, a.token, c.attempts, ws.name AS workspace_name
		FROM c JOIN webhook_notices n ON n.id = c.notice_id
		JOIN notify_addresses a ON a.workspace_id = n.workspace_id AND a.address = c.address
		JOIN workspaces ws ON ws.id = n.workspace_id
		ORDER BY c.address, n.created_at, n.id`, workspaceID, now, now.Add(lease)); err != nil {
		return nil, fmt.Errorf("claim mails: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim mails: commit: %w", err)
	}
	var mails []Mail
	for _, r := range rows {
		n, err := r.notice()
		if err != nil {
			return nil, err
		}
		if len(mails) == 0 || mails[len(mails)-1].Address != r.Address {
			mails = append(mails, Mail{WorkspaceID: workspaceID, WorkspaceName: r.WorkspaceName, Address: r.Address, UnsubscribeToken: r.Token})
		}
		m := &mails[len(mails)-1]
		m.Notices = append(m.Notices, n)
		m.Attempts = max(m.Attempts, r.Attempts)
	}
	return mails, nil
}

// MailOutcome is how sending a claimed mail ended.
type MailOutcome struct {
	Status MailStatus // sent, failed (given up), or pending (to be retried)
	Error  string     // the relay's error, without addresses or secrets
	// At is when it was sent or failed; NextAttemptAt when to retry a
	// pending one.
	At, NextAttemptAt time.Time
}

// RecordMail stores the outcome of sending m, for each of its notices.
func (s *Store) RecordMail(ctx context.Context, m Mail, o MailOutcome) error {
	ids := make([]string, len(m.Notices))
	for i, n := range m.Notices {
		ids[i] = n.ID
	}
	next := o.NextAttemptAt
	if o.Status != MailPending {
		next = o.At
	}
	_, err := s.db.ExecContext(ctx, `
		UPDATE notice_mails SET status = $3, attempts = attempts + 1, last_error = nullif($4, ''),
		       next_attempt_at = $5, sent_at = CASE WHEN $3 = 'sent' THEN $6::timestamptz END
		WHERE notice_id = ANY ($1::uuid[]) AND address = $2 AND status = 'pending'`,
		pq.StringArray(ids), m.Address, string(o.Status), o.Error, next, o.At)
	if err != nil {
		return fmt.Errorf("record mail outcome: %w", err)
	}
	return nil
}

// WorkspacesWithDueMail lists the workspaces with mail due at now and not
// claimed: the sweep's, when a mail task was lost.
func (s *Store) WorkspacesWithDueMail(ctx context.Context, now time.Time, limit int) ([]string, error) {
	ids := []string{}
	if err := s.db.SelectContext(ctx, &ids, `SELECT DISTINCT workspace_id FROM notice_mails
		WHERE status = 'pending' AND next_attempt_at <= $1 LIMIT $2`, now, limit); err != nil {
		return nil, fmt.Errorf("list workspaces with due mail: %w", err)
	}
	return ids, nil
}

// NoticeMail is one notice's mail to one address, as the webhook's page
// lists it. The address is the customer's own, shown to its workspace.
type NoticeMail struct {
	NoticeID  string     `db:"notice_id"`
	Address   string     `db:"address"`
	Status    MailStatus `db:"status"`
	Attempts  int        `db:"attempts"`
	LastError *string    `db:"last_error"`
	SentAt    *time.Time `db:"sent_at"`
}

// NoticeMails lists the mails of the given notices.
func (s *Store) NoticeMails(ctx context.Context, workspaceID string, noticeIDs []string) ([]NoticeMail, error) {
	ms := []NoticeMail{}
	if err := s.db.SelectContext(ctx, &ms, `SELECT notice_id, address, status, attempts, last_error, sent_at
		FROM notice_mails WHERE workspace_id = $1 AND notice_id = ANY ($2::uuid[]) ORDER BY notice_id, address`,
		workspaceID, pq.StringArray(noticeIDs)); err != nil {
		return nil, fmt.Errorf("list notice mails: %w", err)
	}
	return ms, nil
}

// Subscription is a notification address of a workspace, found by the
// token of its unsubscribe link.
type Subscription struct {
	WorkspaceID   string `db:"workspace_id"`
	WorkspaceName string `db:"workspace_name"`
	Address       string `db:"address"`
}

// SubscriptionByToken finds the address an unsubscribe link is for;
// ErrNotFound when the link was used or never existed.
func (s *Store) SubscriptionByToken(ctx context.Context, token string) (Subscription, error) {
	var sub Subscription
	err := s.getOne(ctx, &sub, "get subscription", `SELECT a.workspace_id, ws.name AS workspace_name, a.address
		FROM notify_addresses a JOIN workspaces ws ON ws.id = a.workspace_id WHERE a.token = $1`, token)
	return sub, err
}

// Unsubscribe takes the link's address off every webhook of its workspace
// and drops the mail still waiting for it, once: the token goes with it,
// so a second use is ErrNotFound.
func (s *Store) Unsubscribe(ctx context.Context, token string) (Subscription, error) {
	var sub Subscription
	err := s.getOne(ctx, &sub, "unsubscribe", `
		WITH a AS (
			DELETE FROM notify_addresses WHERE token = $1 RETURNING workspace_id, address),
		w AS (
			UPDATE webhooks w SET notify_emails = array_remove(w.notify_emails, a.address), updated_at = now()
			FROM a WHERE w.workspace_id = a.workspace_id AND a.address = ANY (w.notify_emails)),
		m AS (
			UPDATE notice_mails m SET status = 'dropped'
			FROM a WHERE m.workspace_id = a.workspace_id AND m.address = a.address AND m.status = 'pending')
		SELECT a.workspace_id, ws.name AS workspace_name, a.address FROM a JOIN workspaces ws ON ws.id = a.workspace_id`, token)
	return sub, err
}
