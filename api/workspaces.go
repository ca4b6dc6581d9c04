package api

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/trackelio/webhooks/credential"
)

const maxNameLen = 200

func (s *Server) createWorkspace(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, maxJSONBody, &in); err != nil {
		return err
	}
	name := strings.TrimSpace(in.Name)
	if name == "" {
		return invalid("name", "name is required")
	}
	if utf8.RuneCountInString(name) > maxNameLen {
		return invalid("name", "name is longer than 200 characters")
	}
	key, digest := credential.New(credential.APIKeyPrefix)
	ws, err := s.store.CreateWorkspace(r.Context(), name, digest)
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "workspace created", "workspace_id", ws.ID)
	writeJSON(w, http.StatusCreated, map[string]string{"id": ws.ID, "name": ws.Name, "api_key": key})
	return nil
}

func (s *Server) listEventTypes(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"data": s.manage.Contracts()})
	return nil
}
