package manage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/trackelio/webhooks/repo"
)

// outgoingBody is the payload receivers get; its field order is the order
// on the wire.
type outgoingBody struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	CreatedAt   string          `json:"created_at"`
	WorkspaceID string          `json:"workspace_id"`
	Data        json.RawMessage `json:"data"`
}

// renderBody produces the exact bytes every attempt sends and signs. HTML
// escaping is off so the producer's strings arrive as written.
func renderBody(b outgoingBody) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(b); err != nil {
		return nil, fmt.Errorf("render event body: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// NewEvent gives an event its id and time and renders its outgoing body.
func (s *Service) NewEvent(workspaceID, typ string, data json.RawMessage) (repo.NewEvent, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return repo.NewEvent{}, fmt.Errorf("event id: %w", err)
	}
	// Postgres keeps microseconds; truncating keeps the body and the row equal.
	now := s.now().UTC().Truncate(time.Microsecond)
	body, err := renderBody(outgoingBody{
		ID: id.String(), Type: typ, CreatedAt: now.Format(time.RFC3339Nano), WorkspaceID: workspaceID, Data: data,
	})
	if err != nil {
		return repo.NewEvent{}, err
	}
	return repo.NewEvent{ID: id.String(), WorkspaceID: workspaceID, Type: typ, Body: body, CreatedAt: now}, nil
}
