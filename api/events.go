package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

const (
	// maxEventBody bounds POST /v1/events bodies.
	maxEventBody         = 256 << 10
	maxIdempotencyKeyLen = 255
)

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
	ev, err := s.manage.NewEvent(workspaceID(r.Context()), in.Type, in.Data, key)
	if err != nil {
		return err
	}
	// A valid event that was read whole is accepted whether or not its
	// client waits for the answer: a hang-up must not abandon the commit
	// half-way (its batch may commit it anyway) nor the enqueue after it,
	// or its deliveries would wait for the outbox sweep. Both are bounded
	// on their own: the batch's flush timeout, the enqueue's.
	ctx := context.WithoutCancel(r.Context())
	acc, err := s.store.CreateEvent(ctx, ev)
	if err != nil {
		return err
	}
	if acc.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
		writeJSON(w, http.StatusAccepted, map[string]any{"id": acc.EventID, "deliveries": acc.DeliveryCount})
		return nil
	}
	s.metrics.EventsAccepted.WithLabelValues(in.Type).Inc()
	s.metrics.DeliveriesCreated.WithLabelValues(in.Type).Add(float64(acc.DeliveryCount))
	// Committed is accepted: the answer goes out and the enqueue follows in
	// the background, so no producer waits on Redis, neither for this
	// answer nor for the next request on its connection (while Redis is
	// down an enqueue takes seconds to give up). Deliveries whose enqueue
	// fails, or never happens because the process dies first, are the
	// outbox sweep's.
	writeJSON(w, http.StatusAccepted, map[string]any{"id": acc.EventID, "deliveries": acc.DeliveryCount})
	s.manage.EnqueueSoon(ctx, acc.DeliveryIDs)
	return nil
}
