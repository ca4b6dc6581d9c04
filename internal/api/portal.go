package api

import (
	"net/http"
)

// createPortalSession issues a single-use link that signs its opener in to
// the workspace's dashboard. The Trackelio app's backend calls it and puts
// the link in an iframe or redirects its user to it.
func (s *Server) createPortalSession(w http.ResponseWriter, r *http.Request) error {
	if err := decodeOptionalJSON(w, r, maxJSONBody, &struct{}{}); err != nil {
		return err
	}
	url, expires, err := s.portal.NewLink(r.Context(), r, workspaceID(r.Context()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"url": url, "expires_at": expires.UTC()})
	return nil
}
