package api

import (
	"net/http"

	"github.com/trackelio/webhooks/internal/manage"
)

// rotateSecret issues a new secret; see manage.Service.RotateSecret.
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
	grace, err := manage.GracePeriod(in.GracePeriod)
	if err != nil {
		return err
	}
	rot, err := s.manage.RotateSecret(r.Context(), workspaceID(r.Context()), id, grace)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"secret": rot.Webhook.Secret, "previous_secret_expires_at": rot.PreviousExpiresAt})
	return nil
}
