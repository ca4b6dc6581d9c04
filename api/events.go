package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/trackelio/webhooks/catalog"
	"github.com/trackelio/webhooks/repo"
)

const (
	// maxEventBody bounds POST /v1/events bodies.
	maxEventBody         = 256 << 10
	maxIdempotencyKeyLen = 255
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

// newEvent gives an event its id and time and renders its outgoing body.
func newEvent(workspaceID, typ string, data json.RawMessage) (repo.NewEvent, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return repo.NewEvent{}, fmt.Errorf("event id: %w", err)
	}
	// Postgres keeps microseconds; truncating keeps the body and the row equal.
	now := time.Now().UTC().Truncate(time.Microsecond)
	body, err := renderBody(outgoingBody{
		ID: id.String(), Type: typ, CreatedAt: now.Format(time.RFC3339Nano), WorkspaceID: workspaceID, Data: data,
	})
	if err != nil {
		return repo.NewEvent{}, err
	}
	return repo.NewEvent{ID: id.String(), WorkspaceID: workspaceID, Type: typ, Body: body, CreatedAt: now}, nil
}

func validIdempotencyKey(k string) bool {
	if len(k) > maxIdempotencyKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

func (s *Server) createEvent(w http.ResponseWriter, r *http.Request) error {
	key := r.Header.Get("Idempotency-Key")
	if !validIdempotencyKey(key) {
		return invalid("Idempotency-Key", fmt.Sprintf("Idempotency-Key must be at most %d printable ASCII characters", maxIdempotencyKeyLen))
	}
	var in struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := decodeJSON(w, r, maxEventBody, &in); err != nil {
		return err
	}
	if in.Type == "" {
		return invalid("type", "type is required")
	}
	if !catalog.Known(in.Type) {
		return invalid("type", fmt.Sprintf("unknown event type %q; see GET /v1/event-types", in.Type))
	}
	if len(in.Data) == 0 || in.Data[0] != '{' {
		return invalid("data", "data must be a JSON object")
	}

	ev, err := newEvent(workspaceID(r.Context()), in.Type, in.Data)
	if err != nil {
		return err
	}
	ev.IdempotencyKey = key
	acc, err := s.store.CreateEvent(r.Context(), ev)
	if err != nil {
		return err
	}
	if acc.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	} else {
		s.metrics.EventsAccepted.WithLabelValues(in.Type).Inc()
		s.metrics.DeliveriesCreated.WithLabelValues(in.Type).Add(float64(acc.DeliveryCount))
		s.enqueue(r, acc.DeliveryIDs)
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"id": acc.EventID, "deliveries": acc.DeliveryCount})
	return nil
}

// enqueue hands committed deliveries to the workers. A failure is logged, not
// returned: the deliveries are safe in Postgres and the outbox sweep enqueues
// them later, so the producer must not retry and duplicate the event.
func (s *Server) enqueue(r *http.Request, ids []string) {
	for _, id := range ids {
		if err := s.enqueuer.EnqueueDelivery(r.Context(), id); err != nil {
			s.log.WarnContext(r.Context(), "enqueue failed; the outbox sweep will retry", "delivery_id", id, "error", err)
		}
	}
}
