package repo

import (
	"context"
	"fmt"
	"time"
)

// The dashboard's sign-in state: single-use portal links, sessions, and
// the flashes a page shows once.

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
	if err := s.getOne(ctx, &ws, "start session from portal link", `
		WITH l AS (
			DELETE FROM dashboard_links WHERE token_hash = $1 RETURNING workspace_id, expires_at),
		gc AS (
			DELETE FROM dashboard_links WHERE token_hash IN (
				SELECT token_hash FROM dashboard_links WHERE expires_at <= $3 LIMIT `+fmt.Sprint(expiredBatch)+`))
		INSERT INTO dashboard_sessions (token_hash, workspace_id, expires_at)
		SELECT $2, workspace_id, $4 FROM l WHERE expires_at > $3
		RETURNING workspace_id`, linkHash, sessionHash, now, sessionExpires); err != nil {
		return "", err
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
	if err := s.getOne(ctx, &l, "look up portal link", `
		SELECT l.workspace_id, w.name AS workspace_name
		FROM dashboard_links l JOIN workspaces w ON w.id = l.workspace_id
		WHERE l.token_hash = $1 AND l.expires_at > $2`, linkHash, now); err != nil {
		return PortalLink{}, err
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
	if err := s.getOne(ctx, &sess, "look up session", `
		SELECT s.workspace_id, w.name AS workspace_name, s.expires_at
		FROM dashboard_sessions s JOIN workspaces w ON w.id = s.workspace_id
		WHERE s.token_hash = $1 AND s.expires_at > $2`, sessionHash, now); err != nil {
		return Session{}, err
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
	if err := s.getOne(ctx, &f, "take flash", `
		WITH f AS (
			DELETE FROM dashboard_flashes WHERE token_hash = $1 AND session_hash = $2
			RETURNING kind, webhook_id, expires_at)
		SELECT kind, webhook_id FROM f WHERE expires_at > $3`, tokenHash, sessionHash, now); err != nil {
		return Flash{}, err
	}
	return f, nil
}
