package api

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/trackelio/webhooks/catalog"
	"github.com/trackelio/webhooks/repo"
)

const (
	maxDescriptionLen = 1000
	// maxEventsListed bounds the list before deduplication; the catalog
	// itself is far smaller.
	maxEventsListed = 100
)

type webhookView struct {
	ID                  string     `json:"id"`
	URL                 string     `json:"url"`
	Events              []string   `json:"events"`
	Active              bool       `json:"active"`
	Description         string     `json:"description"`
	FailureCount        int64      `json:"failure_count"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	DisabledReason      *string    `json:"disabled_reason"`
	DisabledAt          *time.Time `json:"disabled_at"`
	LastSuccessAt       *time.Time `json:"last_success_at"`
	LastFailureAt       *time.Time `json:"last_failure_at"`
	// SuccessRate24h is the share of the last day's attempts that got a
	// 2xx; null without attempts.
	SuccessRate24h *float64  `json:"success_rate_24h"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	// Secret is shown on creation only; GET /v1/webhooks/{id}/secret reveals it later.
	Secret string `json:"secret,omitempty"`
}

func newWebhookView(w repo.Webhook) webhookView {
	return webhookView{
		ID: w.ID, URL: w.URL, Events: w.Events, Active: w.Active, Description: w.Description,
		FailureCount: w.FailureCount, ConsecutiveFailures: w.ConsecutiveFailures,
		DisabledReason: nullString(w.DisabledReason), DisabledAt: nullTime(w.DisabledAt),
		LastSuccessAt: nullTime(w.LastSuccessAt), LastFailureAt: nullTime(w.LastFailureAt),
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
	}
}

// webhookViews renders webhooks with their 24-hour success rates, read in
// one query for all of them.
func (s *Server) webhookViews(ctx context.Context, hooks ...repo.Webhook) ([]webhookView, error) {
	ids := make([]string, len(hooks))
	for i, h := range hooks {
		ids[i] = h.ID
	}
	rates, err := s.store.SuccessRates(ctx, ids)
	if err != nil {
		return nil, err
	}
	views := make([]webhookView, len(hooks))
	for i, h := range hooks {
		views[i] = newWebhookView(h)
		if r, ok := rates[h.ID]; ok {
			views[i].SuccessRate24h = &r
		}
	}
	return views, nil
}

func nullString(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

// newSecret returns "whsec_" + standard base64 of 32 random bytes, the form
// Standard Webhooks libraries accept as is.
func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// validateURL applies the destination guard's checks: scheme, form, length
// and literal addresses in refused ranges.
func (s *Server) validateURL(raw string) error {
	if raw == "" {
		return invalid("url", "url is required")
	}
	if err := s.checkURL(raw); err != nil {
		return invalid("url", err.Error())
	}
	return nil
}

// validateEvents checks every type against the catalog and drops duplicates.
func validateEvents(events []string) ([]string, error) {
	if len(events) == 0 {
		return nil, invalid("events", "events must list at least one event type")
	}
	if len(events) > maxEventsListed {
		return nil, invalid("events", fmt.Sprintf("events lists more than %d entries", maxEventsListed))
	}
	out := make([]string, 0, len(events))
	for _, e := range events {
		if !catalog.Known(e) {
			return nil, invalid("events", fmt.Sprintf("unknown event type %q; see GET /v1/event-types", e))
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

func validateDescription(d string) error {
	if utf8.RuneCountInString(d) > maxDescriptionLen {
		return invalid("description", fmt.Sprintf("description is longer than %d characters", maxDescriptionLen))
	}
	return nil
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		URL         string   `json:"url"`
		Events      []string `json:"events"`
		Active      *bool    `json:"active"`
		Description string   `json:"description"`
	}
	if err := decodeJSON(w, r, maxJSONBody, &in); err != nil {
		return err
	}
	in.URL = strings.TrimSpace(in.URL)
	if err := s.validateURL(in.URL); err != nil {
		return err
	}
	events, err := validateEvents(in.Events)
	if err != nil {
		return err
	}
	if err := validateDescription(in.Description); err != nil {
		return err
	}
	active := in.Active == nil || *in.Active
	hook, err := s.store.CreateWebhook(r.Context(), workspaceID(r.Context()), repo.NewWebhook{
		URL: in.URL, Events: events, Active: active, Description: in.Description, Secret: newSecret(),
	}, s.maxHooks)
	if err != nil {
		return err
	}
	v := newWebhookView(hook)
	v.Secret = hook.Secret
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	hooks, err := s.store.Webhooks(r.Context(), workspaceID(r.Context()))
	if err != nil {
		return err
	}
	views, err := s.webhookViews(r.Context(), hooks...)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": views})
	return nil
}

// pathID returns the {id} path value, refusing anything that is not a UUID
// as unknown rather than letting it reach Postgres.
func pathID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return "", errNotFound
	}
	return id, nil
}

func (s *Server) loadWebhook(r *http.Request) (repo.Webhook, error) {
	id, err := pathID(r)
	if err != nil {
		return repo.Webhook{}, err
	}
	return s.store.Webhook(r.Context(), workspaceID(r.Context()), id)
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.loadWebhook(r)
	if err != nil {
		return err
	}
	views, err := s.webhookViews(r.Context(), hook)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, views[0])
	return nil
}

func (s *Server) getWebhookSecret(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.loadWebhook(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"secret": hook.Secret})
	return nil
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in struct {
		URL         *string  `json:"url"`
		Events      []string `json:"events"`
		Active      *bool    `json:"active"`
		Description *string  `json:"description"`
	}
	if err := decodeJSON(w, r, maxJSONBody, &in); err != nil {
		return err
	}
	p := repo.WebhookPatch{Active: in.Active, Description: in.Description}
	if in.URL != nil {
		u := strings.TrimSpace(*in.URL)
		if err := s.validateURL(u); err != nil {
			return err
		}
		p.URL = &u
	}
	if in.Events != nil {
		if p.Events, err = validateEvents(in.Events); err != nil {
			return err
		}
	}
	if in.Description != nil {
		if err := validateDescription(*in.Description); err != nil {
			return err
		}
	}
	ws := workspaceID(r.Context())
	hook, err := s.store.UpdateWebhook(r.Context(), ws, id, p)
	if err != nil {
		return err
	}
	views, err := s.webhookViews(r.Context(), hook.Webhook)
	if err != nil {
		return err
	}
	// Re-enabling a webhook that was failing offers to recover what failed
	// during the streak.
	if hook.Reactivated && hook.FailingSince.Valid {
		since, err := s.store.RecoveryStart(r.Context(), ws, id, hook.FailingSince.Time)
		if err != nil {
			return err
		}
		win := repo.RecoverWindow{Since: since, Until: time.Now(), Limit: maxRecover}
		n, err := s.store.CountRecoverable(r.Context(), ws, id, win)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, struct {
			webhookView
			Recovery recoveryOffer `json:"recovery"`
		}{views[0], recoveryOffer{Since: win.Since, Until: win.Until, FailedDeliveries: n}})
		return nil
	}
	writeJSON(w, http.StatusOK, views[0])
	return nil
}

// recoveryOffer tells a customer re-enabling a webhook what it missed; POST
// /v1/webhooks/{id}/recover with the same window re-sends it.
type recoveryOffer struct {
	Since            time.Time `json:"since"`
	Until            time.Time `json:"until"`
	FailedDeliveries int       `json:"failed_deliveries"`
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := s.store.DeleteWebhook(r.Context(), workspaceID(r.Context()), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
