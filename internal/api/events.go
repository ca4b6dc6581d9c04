package api

import (
	"encoding/json"
	"fmt"
	"net/http"
)

const (
	// maxEventBody bounds POST /v1/events bodies.
	maxEventBody         = 256 << 10
	maxIdempotencyKeyLen = 255
)

// validIdempotencyKey checks the header's syntax. It is the API's, not
// manage's: it is refused before the body is read, whatever the body holds.
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
	acc, err := s.manage.Publish(r.Context(), workspaceID(r.Context()), in.Type, in.Data, key)
	if err != nil {
		return err
	}
	if acc.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"id": acc.EventID, "deliveries": acc.DeliveryCount})
	return nil
}
