package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
	"github.com/trackelio/webhooks/delivery"
)

// expiredBatch bounds how many expired links and sessions one sign-in
// clears, so the tables stay small without a sweep of their own.
const expiredBatch = 100

// CreatePortalLink stores a single-use sign-in link for the workspace under
// the digest of its token.
func (s *Store) CreatePortalLink(ctx context.Context, tokenHash []byte, workspaceID string, expiresAt time.Time) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO dashboard_links (token_hash, workspace_id, expires_at) VALUES ($1, $2, $3)`,
		tokenHash, workspaceID, expiresAt)
	if err != nil {
		return fmt.Errorf("create portal link: %w", mapErr(err))
	}
	return nil
}

// Session is a signed-in dashboard visitor.
type Session struct {
	WorkspaceID   string    `db:"workspace_id"`
	WorkspaceName string    `db:"workspace_name"`
	ExpiresAt     time.Time `db:"expires_at"`
}

// StartSessionFromLink consumes a portal link that is still valid at now and
// starts a session for its workspace in the same statement, so a link opens
// one session at most however many requests race for it. An unknown, used or
// expired link is ErrNotFound; an expired one is deleted all the same.
func (s *Store) StartSessionFromLink(ctx context.Context, linkHash, sessionHash []byte, now, sessionExpires time.Time) (string, error) {
	var ws string
	err := s.db.GetContext(ctx, &ws, `
		WITH l AS (
			DELETE FROM dashboard_links WHERE token_hash = $1 RETURNING workspace_id, expires_at),
		gc AS (
			DELETE FROM dashboard_links WHERE token_hash IN (
				SELECT token_hash FROM dashboard_links WHERE expires_at <= $3 LIMIT `+fmt.Sprint(expiredBatch)+`))
		INSERT INTO dashboard_sessions (token_hash, workspace_id, expires_at)
		SELECT $2, workspace_id, $4 FROM l WHERE expires_at > $3
		RETURNING workspace_id`, linkHash, sessionHash, now, sessionExpires)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("start session from portal link: %w", err)
	}
	return ws, nil
}

// PortalLink is the workspace a portal link signs in to.
type PortalLink struct {
	WorkspaceID   string `db:"workspace_id"`
	WorkspaceName string `db:"workspace_name"`
}

// PortalLinkAt reads a portal link that is still valid at now without
// using it up; otherwise ErrNotFound.
func (s *Store) PortalLinkAt(ctx context.Context, linkHash []byte, now time.Time) (PortalLink, error) {
	var l PortalLink
	err := s.db.GetContext(ctx, &l, `
		SELECT l.workspace_id, w.name AS workspace_name
		FROM dashboard_links l JOIN workspaces w ON w.id = l.workspace_id
		WHERE l.token_hash = $1 AND l.expires_at > $2`, linkHash, now)
	if errors.Is(err, sql.ErrNoRows) {
		return PortalLink{}, ErrNotFound
	}
	if err != nil {
		return PortalLink{}, fmt.Errorf("look up portal link: %w", err)
	}
	return l, nil
}

// CreateSession starts a session for a workspace (a sign-in with its API
// key) and clears a batch of expired sessions.
func (s *Store) CreateSession(ctx context.Context, sessionHash []byte, workspaceID string, now, expires time.Time) error {
	_, err := s.db.ExecContext(ctx, `
		WITH gc AS (
			DELETE FROM dashboard_sessions WHERE token_hash IN (
				SELECT token_hash FROM dashboard_sessions WHERE expires_at <= $3 LIMIT `+fmt.Sprint(expiredBatch)+`))
		INSERT INTO dashboard_sessions (token_hash, workspace_id, expires_at) VALUES ($1, $2, $4)`,
		sessionHash, workspaceID, now, expires)
	if err != nil {
		return fmt.Errorf("create session: %w", mapErr(err))
	}
	return nil
}

// SessionAt returns the session with this digest if it is still valid at
// now, with its workspace's name; otherwise ErrNotFound.
func (s *Store) SessionAt(ctx context.Context, sessionHash []byte, now time.Time) (Session, error) {
	var sess Session
	err := s.db.GetContext(ctx, &sess, `
		SELECT s.workspace_id, w.name AS workspace_name, s.expires_at
		FROM dashboard_sessions s JOIN workspaces w ON w.id = s.workspace_id
		WHERE s.token_hash = $1 AND s.expires_at > $2`, sessionHash, now)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrNotFound
	}
	if err != nil {
		return Session{}, fmt.Errorf("look up session: %w", err)
	}
	return sess, nil
}

// DeleteSession ends a session (sign-out); an unknown one is not an error.
func (s *Store) DeleteSession(ctx context.Context, sessionHash []byte) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM dashboard_sessions WHERE token_hash = $1`, sessionHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// Flash is what a page must show once after a change, named by a
// single-use token: a new webhook's secret, a rotated one, a revealed one.
type Flash struct {
	Kind      string `db:"kind"`
	WebhookID string `db:"webhook_id"`
}

// CreateFlash stores a flash for the session under the digest of its token,
// and clears a batch of expired ones.
func (s *Store) CreateFlash(ctx context.Context, tokenHash, sessionHash []byte, f Flash, now, expires time.Time) error {
	_, err := s.db.ExecContext(ctx, `
		WITH gc AS (
			DELETE FROM dashboard_flashes WHERE token_hash IN (
				SELECT token_hash FROM dashboard_flashes WHERE expires_at <= $5 LIMIT `+fmt.Sprint(expiredBatch)+`))
		INSERT INTO dashboard_flashes (token_hash, session_hash, webhook_id, kind, expires_at) VALUES ($1, $2, $3, $4, $6)`,
		tokenHash, sessionHash, f.WebhookID, f.Kind, now, expires)
	if err != nil {
		return fmt.Errorf("create flash: %w", mapErr(err))
	}
	return nil
}

// TakeFlash consumes the session's flash with this digest if it is still
// valid at now: it is shown once, however many requests race for it. An
// unknown, used, expired or another session's flash is ErrNotFound.
func (s *Store) TakeFlash(ctx context.Context, tokenHash, sessionHash []byte, now time.Time) (Flash, error) {
	var f Flash
	err := s.db.GetContext(ctx, &f, `
		WITH f AS (
			DELETE FROM dashboard_flashes WHERE token_hash = $1 AND session_hash = $2
			RETURNING kind, webhook_id, expires_at)
		SELECT kind, webhook_id FROM f WHERE expires_at > $3`, tokenHash, sessionHash, now)
	if errors.Is(err, sql.ErrNoRows) {
		return Flash{}, ErrNotFound
	}
	if err != nil {
		return Flash{}, fmt.Errorf("take flash: %w", err)
	}
	return f, nil
}

// LastAttempt is the latest attempted delivery of a webhook.
type LastAttempt struct {
	DeliveryID string
	Status     delivery.Status
	StatusCode *int // nil when no response arrived
	At         time.Time
}

const lastAttemptsSQL = `
	SELECT h.id AS webhook_id, d.id, d.status, d.status_code, d.last_attempt_at
	FROM unnest($1::uuid[]) AS h(id)
	CROSS JOIN LATERAL (
		SELECT id, status, status_code, last_attempt_at FROM deliveries
		WHERE webhook_id = h.id AND last_attempt_at IS NOT NULL
		ORDER BY created_at DESC, id DESC LIMIT 1) d`

// LastAttempts returns, per webhook id, its newest delivery that has been
// attempted; webhooks without one are absent. Each webhook costs a short
// walk down its history index.
func (s *Store) LastAttempts(ctx context.Context, webhookIDs []string) (map[string]LastAttempt, error) {
	var rows []struct {
		WebhookID  string          `db:"webhook_id"`
		DeliveryID string          `db:"id"`
		Status     delivery.Status `db:"status"`
		StatusCode sql.NullInt32   `db:"status_code"`
		At         time.Time       `db:"last_attempt_at"`
	}
	err := s.db.SelectContext(ctx, &rows, lastAttemptsSQL, pq.StringArray(webhookIDs))
	if err != nil {
		return nil, fmt.Errorf("last attempts: %w", err)
	}
	out := make(map[string]LastAttempt, len(rows))
	for _, r := range rows {
		la := LastAttempt{DeliveryID: r.DeliveryID, Status: r.Status, At: r.At}
		if r.StatusCode.Valid {
			code := int(r.StatusCode.Int32)
			la.StatusCode = &code
		}
		out[r.WebhookID] = la
	}
	return out, nil
}

// HourCount is how many deliveries of a webhook created in one hour (UTC)
// are in one status.
type HourCount struct {
	Hour   time.Time       `db:"hour"`
	Status delivery.Status `db:"status"`
	Count  int             `db:"count"`
}

const hourlyCountsSQL = `
	SELECT date_bin('1 hour', created_at, '2000-01-01 00:00:00+00') AS hour, status, count(*) AS count
	FROM deliveries
	WHERE webhook_id = $1 AND workspace_id = $2 AND created_at >= $3
	GROUP BY 1, 2 ORDER BY 1, 2`

// HourlyCounts counts a webhook's deliveries created since the given time by
// hour (UTC) and status, reading only that range of the history index.
// date_bin on the absolute time costs half what date_trunc in a zone does.
func (s *Store) HourlyCounts(ctx context.Context, workspaceID, webhookID string, since time.Time) ([]HourCount, error) {
	cs := []HourCount{}
	err := s.db.SelectContext(ctx, &cs, hourlyCountsSQL, webhookID, workspaceID, since)
	if err != nil {
		return nil, fmt.Errorf("hourly delivery counts: %w", err)
	}
	return cs, nil
}
