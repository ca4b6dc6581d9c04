package api

import (
	"net/http"
	"time"
)

// recoverDeliveries re-sends every delivery of the webhook that ended
// without success (failed, or cancelled while the webhook was disabled) in
// the window. ?dry_run=true only counts them.
func (s *Server) recoverDeliveries(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.loadWebhook(r)
	if err != nil {
		return err
	}
	// Strings, parsed by manage, so a malformed time is a 422 naming its field.
	var in struct {
		Since *string `json:"since"`
		Until *string `json:"until"`
	}
	if err := decodeJSON(w, r, maxJSONBody, &in); err != nil {
		return err
	}
	win, err := s.manage.RecoverWindow(in.Since, in.Until)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("dry_run") == "true" {
		n, err := s.manage.CountRecoverable(r.Context(), hook, win)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, recoverAnswer{Deliveries: n, DryRun: true, Since: win.Since, Until: win.Until})
		return nil
	}
	n, err := s.manage.Recover(r.Context(), hook, win)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, recoverAnswer{Deliveries: n, Since: win.Since, Until: win.Until})
	return nil
}

type recoverAnswer struct {
	Deliveries int       `json:"deliveries"`
	DryRun     bool      `json:"dry_run"`
	Since      time.Time `json:"since"`
	Until      time.Time `json:"until"`
}
