package manage

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trackelio/webhooks/internal/catalog"
	"github.com/trackelio/webhooks/repo"
)

const (
	// MaxDescriptionLen bounds a webhook's description, in characters.
	MaxDescriptionLen = 1000
	// maxEventsListed bounds the list before deduplication; the catalog
	// itself is far smaller.
	maxEventsListed = 100
	// MaxGracePeriod bounds how long an old secret keeps signing.
	MaxGracePeriod = 7 * 24 * time.Hour
	// DefaultGracePeriod is the rotation grace period when none is given.
	DefaultGracePeriod = 24 * time.Hour
)

// WebhookInput is a webhook as a customer submits it, from a JSON body or a
// form. On a change a nil field stays as it is; creation needs URL and Events
// and takes Active as true when it is nil.
type WebhookInput struct {
	URL         *string
	Events      []string // nil: not given
	Active      *bool
	Description *string
	// NotifyEmails get by mail the notices NotifyOn names; nil: not given
	// (on creation: no addresses, and the health notices).
	NotifyEmails []string
	NotifyOn     []string
}

// validate checks every field given and returns the cleaned values, or
// FieldErrors naming each bad field in form order (url, events,
// description, notify_emails, notify_on).
func (s *Service) validate(in WebhookInput, creating bool) (repo.WebhookPatch, error) {
	p := repo.WebhookPatch{Active: in.Active, Description: in.Description}
	var errs FieldErrors
	if in.URL != nil || creating {
		u := ""
		if in.URL != nil {
			u = strings.TrimSpace(*in.URL)
		}
		switch {
		case u == "":
			errs = append(errs, invalid("url", "url is required")...)
		default:
			if err := s.checkURL(u); err != nil {
				errs = append(errs, invalid("url", "%s", err.Error())...)
			}
		}
		p.URL = &u
	}
	if in.Events != nil || creating {
		events, err := validateEvents(in.Events)
		if err != nil {
			errs = append(errs, err...)
		}
		p.Events = events
	}
	if in.Description != nil && utf8.RuneCountInString(*in.Description) > MaxDescriptionLen {
		errs = append(errs, invalid("description", "description is longer than %d characters", MaxDescriptionLen)...)
	}
	if in.NotifyEmails != nil {
		emails, err := validateNotifyEmails(in.NotifyEmails)
		errs = append(errs, err...)
		p.NotifyEmails = emails
	}
	if in.NotifyOn != nil {
		on, err := validateNotifyOn(in.NotifyOn)
		errs = append(errs, err...)
		p.NotifyOn = on
	}
	if errs != nil {
		return repo.WebhookPatch{}, errs
	}
	return p, nil
}

// validateEvents checks every type against the catalog and drops duplicates.
func validateEvents(events []string) ([]string, FieldErrors) {
	if len(events) == 0 {
		return nil, invalid("events", "events must list at least one event type")
	}
	if len(events) > maxEventsListed {
		return nil, invalid("events", "events lists more than %d entries", maxEventsListed)
	}
	out := make([]string, 0, len(events))
	for _, e := range events {
		if !catalog.Known(e) {
			return nil, invalid("events", "unknown event type %q; see GET /v1/event-types", e)
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// newSecret returns "whsec_" + standard base64 of 32 random bytes, the form
// Standard Webhooks libraries accept as is.
func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// CreateWebhook validates the input and creates the webhook with a new
// secret, which the returned webhook holds.
func (s *Service) CreateWebhook(ctx context.Context, workspaceID string, in WebhookInput) (repo.Webhook, error) {
	p, err := s.validate(in, true)
	if err != nil {
		return repo.Webhook{}, err
	}
	hook := repo.NewWebhook{URL: *p.URL, Events: p.Events, Active: p.Active == nil || *p.Active, Secret: newSecret(),
		NotifyEmails: p.NotifyEmails, NotifyOn: p.NotifyOn}
	if p.Description != nil {
		hook.Description = *p.Description
	}
	return s.store.CreateWebhook(ctx, workspaceID, hook, s.maxHooks)
}

// Updated is a webhook as a change left it.
type Updated struct {
	Webhook repo.Webhook
	// Recovery is set when the change re-enabled a webhook during a failure
	// streak: what failed in it, ready for Recover.
	Recovery *RecoveryOffer
}

// RecoveryOffer tells a customer re-enabling a webhook what it missed.
type RecoveryOffer struct {
	Since            time.Time
	Until            time.Time
	FailedDeliveries int
}

// CheckChange validates a change without applying it, as UpdateWebhook
// would: a front end that asks before a change checks it first.
func (s *Service) CheckChange(in WebhookInput) error {
	_, err := s.validate(in, false)
	return err
}

// UpdateWebhook validates and applies a change. Re-enabling a webhook that
// was failing resets its streak and comes with a recovery offer.
func (s *Service) UpdateWebhook(ctx context.Context, workspaceID, id string, in WebhookInput) (Updated, error) {
	p, err := s.validate(in, false)
	if err != nil {
		return Updated{}, err
	}
	hook, err := s.store.UpdateWebhook(ctx, workspaceID, id, p)
	if err != nil {
		return Updated{}, err
	}
	out := Updated{Webhook: hook.Webhook}
	s.dispatchNotices(ctx, hook.Notices)
	if hook.Cancelled > 0 {
		s.log.InfoContext(ctx, "webhook turned off; deliveries waiting for a retry cancelled", "webhook_id", id, "cancelled", hook.Cancelled)
	}
	if hook.Reactivated && hook.FailingSince != nil {
		since, err := s.store.RecoveryStart(ctx, workspaceID, id, *hook.FailingSince)
		if err != nil {
			return Updated{}, err
		}
		win := repo.RecoverWindow{Since: since, Until: s.now(), Limit: MaxRecover}
		n, err := s.store.CountRecoverable(ctx, workspaceID, id, win)
		if err != nil {
			return Updated{}, err
		}
		out.Recovery = &RecoveryOffer{Since: win.Since, Until: win.Until, FailedDeliveries: n}
		// The offer stays on the webhook's page until it is used or
		// dismissed, not only in this answer.
		if n > 0 {
			if err := s.store.SetRecoveryOffer(ctx, workspaceID, id, win.Since, win.Until); err != nil {
				return Updated{}, err
			}
		}
	}
	return out, nil
}

// MaxPendingCounted bounds the count of pending deliveries a confirmation
// before turning a webhook off shows; beyond it the count reads "more
// than".
const MaxPendingCounted = 10000

// CountPending counts, up to MaxPendingCounted + 1, the pending deliveries
// turning the webhook off would cancel.
func (s *Service) CountPending(ctx context.Context, hook repo.Webhook) (int, error) {
	return s.store.CountPending(ctx, hook.WorkspaceID, hook.ID, MaxPendingCounted+1)
}

// RecoveryOffer is the offer kept on a webhook since it was re-enabled
// after a failure streak, with what is left to recover in it; nil when
// there is none, nothing failed in it, or it is older than RecoverHorizon.
func (s *Service) RecoveryOffer(ctx context.Context, hook repo.Webhook) (*RecoveryOffer, error) {
	win, ok := s.offerWindow(hook)
	if !ok {
		return nil, nil
	}
	n, err := s.store.CountRecoverable(ctx, hook.WorkspaceID, hook.ID, win)
	if err != nil || n == 0 {
		return nil, err
	}
	return &RecoveryOffer{Since: win.Since, Until: win.Until, FailedDeliveries: n}, nil
}

// offerWindow is the window of the offer kept on a webhook, if it has one
// still within reach. A recovery reaches back RecoverHorizon at most; the
// offer shrinks with it, a minute inside, so the form it fills is still
// accepted when it is sent.
func (s *Service) offerWindow(hook repo.Webhook) (repo.RecoverWindow, bool) {
	if hook.RecoverySince == nil || hook.RecoveryUntil == nil {
		return repo.RecoverWindow{}, false
	}
	win := repo.RecoverWindow{Since: *hook.RecoverySince, Until: *hook.RecoveryUntil, Limit: MaxRecover}
	if horizon := s.now().Add(-RecoverHorizon + time.Minute); win.Since.Before(horizon) {
		win.Since = horizon
	}
	return win, win.Until.After(win.Since)
}

// DismissRecovery removes the recovery offer kept on a webhook.
func (s *Service) DismissRecovery(ctx context.Context, hook repo.Webhook) error {
	return s.store.ClearRecoveryOffer(ctx, hook.WorkspaceID, hook.ID)
}

// DeleteWebhook deletes a webhook; its pending deliveries end cancelled.
func (s *Service) DeleteWebhook(ctx context.Context, workspaceID, id string) error {
	return s.store.DeleteWebhook(ctx, workspaceID, id)
}

// GracePeriod reads a rotation grace period such as "24h"; nil is the
// default.
func GracePeriod(text *string) (time.Duration, error) {
	if text == nil {
		return DefaultGracePeriod, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(*text))
	if err != nil || d < 0 || d > MaxGracePeriod {
		return 0, invalid("grace_period", "grace_period must be a duration like 24h, from 0s to 168h")
	}
	return d, nil
}

// Rotation is the outcome of a secret rotation.
type Rotation struct {
	Webhook repo.Webhook // holds the new secret
	// PreviousExpiresAt is when the old secret stops signing.
	PreviousExpiresAt time.Time
}

// RotateSecret issues a new secret. X-Trackelio-Signature uses it at once;
// webhook-signature carries signatures with both secrets until the grace
// period ends, so receivers can switch without dropping deliveries.
func (s *Service) RotateSecret(ctx context.Context, workspaceID, id string, grace time.Duration) (Rotation, error) {
	ends := s.now().Add(grace).UTC()
	hook, err := s.store.RotateSecret(ctx, workspaceID, id, newSecret(), ends)
	if err != nil {
		return Rotation{}, fmt.Errorf("rotate secret: %w", err)
	}
	s.log.InfoContext(ctx, "webhook secret rotated", "webhook_id", hook.ID, "grace_period", grace.String())
	return Rotation{Webhook: hook, PreviousExpiresAt: ends}, nil
}
