package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/trackelio/webhooks/repo"
)

const (
	// recoverHorizon is how far back a recovery may reach.
	recoverHorizon = 14 * 24 * time.Hour
	// maxRecover bounds one recovery; a larger window is recovered in parts.
	maxRecover = 10000
)

// recoverDeliveries re-sends every delivery of the webhook that ended
// without success (failed, or cancelled while the webhook was disabled) in
// the window. ?dry_run=true only counts them.
func (s *Server) recoverDeliveries(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.loadWebhook(r)
	if err != nil {
		return err
	}
	// Strings, parsed here, so a malformed time is a 422 naming its field.
	var in struct {
		Since *string `json:"since"`
		Until *string `json:"until"`
	}
	if err := decodeJSON(w, r, maxJSONBody, &in); err != nil {
		return err
	}
	now := time.Now()
	if in.Since == nil {
		return invalid("since", "since is required (RFC 3339)")
	}
	since, err := time.Parse(time.RFC3339Nano, *in.Since)
	if err != nil {
		return invalid("since", "since must be an RFC 3339 time like 2026-11-20T00:00:00Z")
	}
	if since.Before(now.Add(-recoverHorizon)) {
		return invalid("since", "since may be at most 14 days ago")
	}
	win := repo.RecoverWindow{Since: since, Until: now, Limit: maxRecover}
	if in.Until != nil {
		if win.Until, err = time.Parse(time.RFC3339Nano, *in.Until); err != nil {
			return invalid("until", "until must be an RFC 3339 time like 2026-11-21T00:00:00Z")
		}
	}
	if !win.Until.After(win.Since) {
		return invalid("until", "until must be after since")
	}
	dryRun := r.URL.Query().Get("dry_run") == "true"
	if !dryRun && !hook.Active {
		return &Error{Status: http.StatusConflict, Code: "webhook_inactive", Message: "the webhook is inactive; activate it before recovering"}
	}
	ws := workspaceID(r.Context())
	if dryRun {
		n, err := s.store.CountRecoverable(r.Context(), ws, hook.ID, win)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, recoverAnswer{Deliveries: n, DryRun: true, Since: win.Since, Until: win.Until})
		return nil
	}
	ids, err := s.store.Recover(r.Context(), ws, hook.ID, win)
	if err != nil {
		return fmt.Errorf("recover webhook %s: %w", hook.ID, err)
	}
	s.enqueue(r, ids)
	s.log.InfoContext(r.Context(), "deliveries recovered", "webhook_id", hook.ID, "count", len(ids))
	writeJSON(w, http.StatusAccepted, recoverAnswer{Deliveries: len(ids), Since: win.Since, Until: win.Until})
	return nil
}

type recoverAnswer struct {
	Deliveries int       `json:"deliveries"`
	DryRun     bool      `json:"dry_run"`
	Since      time.Time `json:"since"`
	Until      time.Time `json:"until"`
}
