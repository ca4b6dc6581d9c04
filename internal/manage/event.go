package manage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/trackelio/webhooks/internal/catalog"
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

// Contracts lists the catalog's event types with the schema and an example
// of each one's data.
func (s *Service) Contracts() []catalog.Contract { return s.schemas.Contracts() }

// NewEvent checks a producer's event, a catalog type whose data has the
// shape all data must have and is accepted by its type's schema, then gives
// it its id and time and renders its outgoing body. Sent with an
// idempotency key ("" for none), the event carries the key and a digest of
// the request, which a later request under that key must match. A refused
// field is named by its JSON pointer into the request body, such as
// /data/post/id.
func (s *Service) NewEvent(workspaceID, typ string, data json.RawMessage, idempotencyKey string) (repo.NewEvent, error) {
	if typ == "" {
		return repo.NewEvent{}, invalid("type", "type is required")
	}
	if !catalog.Known(typ) {
		return repo.NewEvent{}, invalid("type", "unknown event type %q; see GET /v1/event-types", typ)
	}
	if len(data) == 0 || data[0] != '{' {
		return repo.NewEvent{}, invalid("data", "data must be a JSON object")
	}
	// The shape comes first: the schema parses the data whole, which a
	// document thousands of levels deep would make costly.
	if de := catalog.CheckShape(data); de != nil {
		return repo.NewEvent{}, invalid("/data"+de.Pointer, "%s", de.Message)
	}
	var de *catalog.DataError
	if err := s.schemas.Validate(typ, data); errors.As(err, &de) {
		return repo.NewEvent{}, invalid("/data"+de.Pointer, "%s (see the %s schema in GET /v1/event-types)", de.Message, typ)
	} else if err != nil {
		return repo.NewEvent{}, err
	}
	ev, err := s.newEvent(workspaceID, typ, data)
	if err != nil || idempotencyKey == "" {
		return ev, err
	}
	ev.IdempotencyKey = idempotencyKey
	ev.RequestDigest, err = requestDigest(typ, data)
	return ev, err
}

// Publish accepts a producer's event: it checks it as NewEvent does,
// stores it with one pending delivery per active webhook of the workspace
// subscribed to its type, and hands those to the workers in the background,
// so the caller answers without waiting on Redis (an enqueue that fails, or
// never happens because the process dies first, is the outbox sweep's). An
// idempotency key sent before with the same request stores nothing and
// returns the first event, Replayed; with a different request it is a
// *repo.KeyReusedError. Once the event is checked, ctx's cancellation no
// longer applies.
func (s *Service) Publish(ctx context.Context, workspaceID, typ string, data json.RawMessage, idempotencyKey string) (repo.AcceptedEvent, error) {
	ev, err := s.NewEvent(workspaceID, typ, data, idempotencyKey)
	if err != nil {
		return repo.AcceptedEvent{}, err
	}
	// A valid event is accepted whether or not its producer waits for the
	// answer: a hang-up must not abandon the commit half-way (its batch may
	// commit it anyway) nor the enqueue after it, or its deliveries would
	// wait for the outbox sweep. Both are bounded on their own: the batch's
	// flush timeout, the enqueue's.
	acc, err := s.publish(context.WithoutCancel(ctx), ev, "")
	if err != nil || acc.Replayed {
		return acc, err
	}
	s.metrics.EventsAccepted.WithLabelValues(typ).Inc()
	s.metrics.DeliveriesCreated.WithLabelValues(typ).Add(float64(acc.DeliveryCount))
	return acc, nil
}

// publish commits ev with its pending deliveries and hands them to the
// workers in the background. With only empty, the deliveries go to every
// active webhook of ev's workspace subscribed to its type, and a replayed
// idempotency key commits and enqueues nothing. With only naming a webhook
// (a test), ev has one delivery, to that webhook whatever it is subscribed
// to and even while it is inactive.
func (s *Service) publish(ctx context.Context, ev repo.NewEvent, only string) (repo.AcceptedEvent, error) {
	acc, err := s.commit(ctx, ev, only)
	if err != nil {
		return repo.AcceptedEvent{}, fmt.Errorf("publish %s event %s: %w", ev.Type, ev.ID, err)
	}
	if !acc.Replayed {
		s.enqueueSoon(ctx, acc.DeliveryIDs)
	}
	return acc, nil
}

// commit stores ev and its deliveries as publish says.
func (s *Service) commit(ctx context.Context, ev repo.NewEvent, only string) (repo.AcceptedEvent, error) {
	if only == "" {
		return s.store.CreateEvent(ctx, ev)
	}
	id, err := s.store.CreateTestEvent(ctx, ev, only)
	if err != nil {
		return repo.AcceptedEvent{}, err
	}
	return repo.AcceptedEvent{EventID: ev.ID, DeliveryIDs: []string{id}, DeliveryCount: 1}, nil
}

// requestDigest identifies a request under its Idempotency-Key: the SHA-256
// of the type, a NUL (which neither a type nor compacted JSON holds), and
// the data compacted. Insignificant whitespace does not count; anything
// else does, the order of members and the way a string is escaped
// included, so a retry must send the data as it was first sent (a client
// that marshals the same value each time does).
func requestDigest(typ string, data []byte) ([]byte, error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		return nil, fmt.Errorf("digest event data: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(typ))
	h.Write([]byte{0})
	h.Write(compact.Bytes())
	return h.Sum(nil), nil
}

// newEvent gives an event its id and time and renders its outgoing body.
func (s *Service) newEvent(workspaceID, typ string, data json.RawMessage) (repo.NewEvent, error) {
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
