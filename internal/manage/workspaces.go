package manage

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/trackelio/webhooks/internal/credential"
	"github.com/trackelio/webhooks/repo"
)

// MaxWorkspaceNameLen bounds a workspace's name, in characters.
const MaxWorkspaceNameLen = 200

// CreateWorkspace creates a workspace named name, trimmed, with its first
// API key, and returns both. Only the key's digest is stored, so this is
// the one time the key can be shown.
func (s *Service) CreateWorkspace(ctx context.Context, name string) (ws repo.Workspace, apiKey string, err error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return repo.Workspace{}, "", invalid("name", "name is required")
	}
	if utf8.RuneCountInString(name) > MaxWorkspaceNameLen {
		return repo.Workspace{}, "", invalid("name", "name is longer than %d characters", MaxWorkspaceNameLen)
	}
	key, digest := credential.New(credential.APIKeyPrefix)
	if ws, err = s.store.CreateWorkspace(ctx, name, digest); err != nil {
		return repo.Workspace{}, "", err
	}
	s.log.InfoContext(ctx, "workspace created", "workspace_id", ws.ID)
	return ws, key, nil
}
