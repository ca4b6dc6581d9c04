package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// A failure streak's recovery: the offer kept on a webhook that was
// re-enabled after one, and the deliveries it ended without success,
// counted and sent again.

// SetRecoveryOffer keeps a recovery offer on the webhook; an offer not yet
// used widens to cover both windows.
func (s *Store) SetRecoveryOffer(ctx context.Context, workspaceID, id string, since, until time.Time) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE webhooks SET recovery_since = least(recovery_since, $3), recovery_until = greatest(recovery_until, $4)
		WHERE id = $1 AND workspace_id = $2`, id, workspaceID, since, until)
	if err != nil {
		return fmt.Errorf("set recovery offer: %w", err)
	}
	return nil
}

// ClearRecoveryOffer removes the webhook's recovery offer (used or
// dismissed).
func (s *Store) ClearRecoveryOffer(ctx context.Context, workspaceID, id string) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE webhooks SET recovery_since = NULL, recovery_until = NULL WHERE id = $1 AND workspace_id = $2`, id, workspaceID)
	if err != nil {
		return fmt.Errorf("clear recovery offer: %w", err)
	}
	return nil
}

// RecoverWindow selects the deliveries of a webhook that ended without
// success (failed, or cancelled when the webhook was disabled) and were
// created in [since, until).
type RecoverWindow struct {
	Since, Until time.Time
	Limit        int
}

// RecoveryStart is where a recovery of a failure streak that began at
// failingSince should start: the creation of the oldest delivery that ended
// without success since then (a delivery is created before its attempts
// fail), or failingSince itself when there is none.
func (s *Store) RecoveryStart(ctx context.Context, workspaceID, webhookID string, failingSince time.Time) (time.Time, error) {
	var since *time.Time
	err := s.db.GetContext(ctx, &since, `
		SELECT min(created_at) FROM deliveries
		WHERE webhook_id = $1 AND workspace_id = $2 AND status IN ('failed', 'cancelled') AND finished_at >= $3`,
		webhookID, workspaceID, failingSince)
	if err != nil {
		return time.Time{}, fmt.Errorf("recovery start: %w", err)
	}
	if since != nil && since.Before(failingSince) {
		return *since, nil
	}
	return failingSince, nil
}

// CountRecoverable counts what Recover would re-send.
func (s *Store) CountRecoverable(ctx context.Context, workspaceID, webhookID string, win RecoverWindow) (int, error) {
	var n int
	err := s.db.GetContext(ctx, &n, `
		SELECT count(*) FROM (
			SELECT 1 FROM deliveries
			WHERE webhook_id = $1 AND workspace_id = $2 AND status IN ('failed', 'cancelled')
			  AND created_at >= $3 AND created_at < $4 LIMIT $5) x`,
		webhookID, workspaceID, win.Since, win.Until, win.Limit)
	if err != nil {
		return 0, fmt.Errorf("count recoverable: %w", err)
	}
	return n, nil
}

// Recover creates a new pending run for every delivery in the window and
// returns the new delivery ids.
func (s *Store) Recover(ctx context.Context, workspaceID, webhookID string, win RecoverWindow) ([]string, error) {
	var ids pq.StringArray
	err := s.db.GetContext(ctx, &ids, `
		WITH src AS (
			SELECT id, event_id, event_type FROM deliveries
			WHERE webhook_id = $1 AND workspace_id = $2 AND status IN ('failed', 'cancelled')
			  AND created_at >= $3 AND created_at < $4
			ORDER BY created_at LIMIT $5),
		ins AS (
			INSERT INTO deliveries (workspace_id, event_id, event_type, webhook_id, redelivery_of, next_attempt_at)
			SELECT $2, src.event_id, src.event_type, $1, src.id, now() FROM src
			RETURNING id)
		SELECT ARRAY(SELECT id::text FROM ins)`,
		webhookID, workspaceID, win.Since, win.Until, win.Limit)
	if err != nil {
		return nil, fmt.Errorf("recover deliveries: %w", err)
	}
	return ids, nil
}
