package api

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/repo"
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
	Secret       string   `json:"secret,omitempty"`
	NotifyEmails []string `json:"notify_emails"`
	NotifyOn     []string `json:"notify_on"`
	// NoticeStage is what the owners were last told; null when nothing.
	NoticeStage *string `json:"notice_stage"`
}

func newWebhookView(w repo.Webhook) webhookView {
	v := webhookView{
		ID: w.ID, URL: w.URL, Events: w.Events, Active: w.Active, Description: w.Description,
		FailureCount: w.FailureCount, ConsecutiveFailures: w.ConsecutiveFailures,
		DisabledAt: w.DisabledAt, LastSuccessAt: w.LastSuccessAt, LastFailureAt: w.LastFailureAt,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, NotifyEmails: w.NotifyEmails, NotifyOn: w.NotifyOn,
	}
	if w.DisabledReason != "" { // "" is none: null in the API
		v.DisabledReason = &w.DisabledReason
	}
	if w.NoticeStage != delivery.StageClear {
		v.NoticeStage = new(string(w.NoticeStage))
	}
	return v
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

// webhookBody is a webhook as POST and PATCH take it.
type webhookBody struct {
	URL          *string  `json:"url"`
	Events       []string `json:"events"`
	Active       *bool    `json:"active"`
	Description  *string  `json:"description"`
	NotifyEmails []string `json:"notify_emails"`
	NotifyOn     []string `json:"notify_on"`
}

func (b webhookBody) input() manage.WebhookInput {
	return manage.WebhookInput{URL: b.URL, Events: b.Events, Active: b.Active, Description: b.Description,
		NotifyEmails: b.NotifyEmails, NotifyOn: b.NotifyOn}
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var in webhookBody
	if err := decodeJSON(w, r, maxJSONBody, &in); err != nil {
		return err
	}
	hook, err := s.manage.CreateWebhook(r.Context(), workspaceID(r.Context()), in.input())
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
	var in webhookBody
	if err := decodeJSON(w, r, maxJSONBody, &in); err != nil {
		return err
	}
	upd, err := s.manage.UpdateWebhook(r.Context(), workspaceID(r.Context()), id, in.input())
	if err != nil {
		return err
	}
	views, err := s.webhookViews(r.Context(), upd.Webhook)
	if err != nil {
		return err
	}
	// Re-enabling a webhook that was failing offers to recover what failed
	// during the streak.
	if o := upd.Recovery; o != nil {
		writeJSON(w, http.StatusOK, struct {
			webhookView
			Recovery recoveryOffer `json:"recovery"`
		}{views[0], recoveryOffer{Since: o.Since, Until: o.Until, FailedDeliveries: o.FailedDeliveries}})
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
	if err := s.manage.DeleteWebhook(r.Context(), workspaceID(r.Context()), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
