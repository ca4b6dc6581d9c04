package api

import (
	"net/http"
)

func (s *Server) createWorkspace(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, maxJSONBody, &in); err != nil {
		return err
	}
	ws, key, err := s.manage.CreateWorkspace(r.Context(), in.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": ws.ID, "name": ws.Name, "api_key": key})
	return nil
}

func (s *Server) listEventTypes(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"data": s.manage.Contracts()})
	return nil
}
