package api

import (
	"fmt"
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
	// A mistyped dry run must not re-send: only true and false (or none)
	// are understood.
	var dryRun bool
	switch v := r.URL.Query().Get("dry_run"); v {
	case "true":
		dryRun = true
	case "", "false":
	default:
		return invalid("dry_run", fmt.Sprintf("dry_run must be true or false, not %q", v))
	}
	win, err := s.manage.RecoverWindow(in.Since, in.Until)
	if err != nil {
		return err
	}
	if dryRun {
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
