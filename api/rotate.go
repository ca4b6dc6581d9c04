package api

import (
	"net/http"
	"time"
)

// maxGracePeriod bounds how long an old secret keeps signing.
const maxGracePeriod = 7 * 24 * time.Hour

// rotateSecret issues a new secret. X-Trackelio-Signature uses it at once;
// webhook-signature carries signatures with both secrets until the grace
// period ends, so receivers can switch without dropping deliveries.
func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in struct {
		GracePeriod *string `json:"grace_period"`
	}
	if err := decodeOptionalJSON(w, r, maxJSONBody, &in); err != nil {
		return err
	}
	grace := 24 * time.Hour
	if in.GracePeriod != nil {
		grace, err = time.ParseDuration(*in.GracePeriod)
		if err != nil || grace < 0 || grace > maxGracePeriod {
			return invalid("grace_period", "grace_period must be a duration like 24h, from 0s to 168h")
		}
	}
	ends := time.Now().Add(grace)
	hook, err := s.store.RotateSecret(r.Context(), workspaceID(r.Context()), id, newSecret(), ends)
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "webhook secret rotated", "webhook_id", hook.ID, "grace_period", grace.String())
	writeJSON(w, http.StatusOK, map[string]any{"secret": hook.Secret, "previous_secret_expires_at": ends.UTC()})
	return nil
}
