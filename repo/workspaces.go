package repo

import (
	"context"
	"fmt"
	"time"
)

// Workspace is a tenant: every other row belongs to exactly one.
type Workspace struct {
	ID        string    `db:"id"`
	Name      string    `db:"name"`
	CreatedAt time.Time `db:"created_at"`
}

// CreateWorkspace stores a workspace together with its first API key digest.
func (s *Store) CreateWorkspace(ctx context.Context, name string, keyHash []byte) (Workspace, error) {
	var w Workspace
	err := s.db.GetContext(ctx, &w, `
		WITH ws AS (INSERT INTO workspaces (name) VALUES ($1) RETURNING id, name, created_at),
		     k  AS (INSERT INTO api_keys (workspace_id, key_hash) SELECT id, $2 FROM ws)
		SELECT id, name, created_at FROM ws`, name, keyHash)
	if err != nil {
		return Workspace{}, fmt.Errorf("create workspace: %w", mapErr(err))
	}
	return w, nil
}

// WorkspaceByKeyHash resolves an API key digest to its workspace id.
func (s *Store) WorkspaceByKeyHash(ctx context.Context, keyHash []byte) (string, error) {
	var id string
	if err := s.getOne(ctx, &id, "look up api key", `SELECT workspace_id FROM api_keys WHERE key_hash = $1`, keyHash); err != nil {
		return "", err
	}
	return id, nil
}
