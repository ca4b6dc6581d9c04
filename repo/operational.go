package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// OperationalEndpoint is one of the operator's endpoints for operational
// webhooks, from the service's settings.
type OperationalEndpoint struct {
	URL    string
	Secret string
}

// operationalGrace is how long a replaced operational secret keeps
// signing, so a rolling restart does not fail verification in between.
const operationalGrace = 24 * time.Hour

// EnsureOperational makes the operational workspace's webhooks the given
// endpoints, each subscribed to types, and returns the workspace's id: it
// creates the workspace the first time, adds new endpoints, moves a
// changed secret in (the old one signs beside it for a day, as a rotation
// does) and deletes the endpoints no longer listed. With no endpoints it
// deletes them all. Concurrent starts of several processes agree: the
// workspace row is locked.
func (s *Store) EnsureOperational(ctx context.Context, endpoints []OperationalEndpoint, types []string) (string, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("ensure operational workspace: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after commit
	if _, err := tx.ExecContext(ctx, `INSERT INTO workspaces (name, operational) VALUES ('Operational notices', true)
		ON CONFLICT (operational) WHERE operational DO NOTHING`); err != nil {
		return "", fmt.Errorf("create operational workspace: %w", err)
	}
	var id string
	if err := tx.GetContext(ctx, &id, `SELECT id FROM workspaces WHERE operational FOR NO KEY UPDATE`); err != nil {
		return "", fmt.Errorf("lock operational workspace: %w", err)
	}
	urls, secrets := make([]string, len(endpoints)), make([]string, len(endpoints))
	for i, e := range endpoints {
		urls[i], secrets[i] = e.URL, e.Secret
	}
	if _, err := tx.ExecContext(ctx, `
		UPDATE webhooks SET deleted_at = now(), active = false, secret = '', previous_secret = NULL,
		       previous_secret_expires_at = NULL, updated_at = now()
		WHERE workspace_id = $1 AND deleted_at IS NULL AND NOT (url = ANY ($2::text[]))`, id, pq.StringArray(urls)); err != nil {
		return "", fmt.Errorf("delete unlisted operational endpoints: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `
		UPDATE webhooks w SET events = $4::text[], active = true, disabled_reason = NULL, disabled_at = NULL,
		       previous_secret = CASE WHEN w.secret <> e.secret THEN w.secret ELSE w.previous_secret END,
		       previous_secret_expires_at = CASE WHEN w.secret <> e.secret THEN now() + $5::interval ELSE w.previous_secret_expires_at END,
		       secret = e.secret, updated_at = now()
		FROM unnest($2::text[], $3::text[]) AS e(url, secret)
		WHERE w.workspace_id = $1 AND w.deleted_at IS NULL AND w.url = e.url
		  AND (w.secret <> e.secret OR w.events <> $4::text[] OR NOT w.active)`,
		id, pq.StringArray(urls), pq.StringArray(secrets), pq.StringArray(types), operationalGrace.String()); err != nil {
		return "", fmt.Errorf("update operational endpoints: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO webhooks (workspace_id, url, events, active, description, secret)
		SELECT $1, e.url, $4::text[], true, 'Operational webhook', e.secret
		FROM unnest($2::text[], $3::text[]) AS e(url, secret)
		WHERE NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.workspace_id = $1 AND w.deleted_at IS NULL AND w.url = e.url)`,
		id, pq.StringArray(urls), pq.StringArray(secrets), pq.StringArray(types)); err != nil {
		return "", fmt.Errorf("add operational endpoints: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("ensure operational workspace: commit: %w", err)
	}
	return id, nil
}

// OperationalWorkspace returns the operational workspace's id, and false
// when no process has configured operational webhooks yet.
func (s *Store) OperationalWorkspace(ctx context.Context) (string, bool, error) {
	var id string
	err := s.db.GetContext(ctx, &id, `SELECT id FROM workspaces WHERE operational`)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("find operational workspace: %w", err)
	}
	return id, true, nil
}
