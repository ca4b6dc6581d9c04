package manage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/repo"
)

const (
	// RecoverHorizon is how far back a recovery may reach.
	RecoverHorizon = 14 * 24 * time.Hour
	// MaxRecover bounds one recovery; a larger window is recovered in parts.
	MaxRecover = 10000
	// testPoll is how often SendTest looks for the worker's attempt.
	testPoll = 50 * time.Millisecond
)

// Redeliver creates a new delivery of a delivery's event to the same webhook,
// hands it to the workers and returns it.
func (s *Service) Redeliver(ctx context.Context, workspaceID, deliveryID string) (repo.Delivery, error) {
	d, err := s.store.Delivery(ctx, workspaceID, deliveryID)
	if err != nil {
		return repo.Delivery{}, err
	}
	hook, err := s.store.Webhook(ctx, workspaceID, d.WebhookID)
	if err != nil {
		return repo.Delivery{}, err
	}
	if !hook.Active {
		return repo.Delivery{}, inactive("redelivering")
	}
	newID, err := s.store.Redeliver(ctx, workspaceID, d.ID)
	if err != nil {
		return repo.Delivery{}, err
	}
	s.enqueue(ctx, []string{newID})
	return s.store.Delivery(ctx, workspaceID, newID)
}

// RecoverWindow reads a recovery window from RFC 3339 texts: since is
// required and at most RecoverHorizon ago, until defaults to now.
func (s *Service) RecoverWindow(since, until *string) (repo.RecoverWindow, error) {
	now := s.now()
	if since == nil || *since == "" {
		return repo.RecoverWindow{}, invalid("since", "since is required (RFC 3339)")
	}
	from, err := time.Parse(time.RFC3339Nano, *since)
	if err != nil {
		return repo.RecoverWindow{}, invalid("since", "since must be an RFC 3339 time like 2026-11-20T00:00:00Z")
	}
	if from.Before(now.Add(-RecoverHorizon)) {
		return repo.RecoverWindow{}, invalid("since", "since may be at most 14 days ago")
	}
	win := repo.RecoverWindow{Since: from, Until: now, Limit: MaxRecover}
	if until != nil && *until != "" {
		if win.Until, err = time.Parse(time.RFC3339Nano, *until); err != nil {
			return repo.RecoverWindow{}, invalid("until", "until must be an RFC 3339 time like 2026-11-21T00:00:00Z")
		}
	}
	if !win.Until.After(win.Since) {
		return repo.RecoverWindow{}, invalid("until", "until must be after since")
	}
	return win, nil
}

// CountRecoverable counts what Recover would re-send.
func (s *Service) CountRecoverable(ctx context.Context, hook repo.Webhook, win repo.RecoverWindow) (int, error) {
	return s.store.CountRecoverable(ctx, hook.WorkspaceID, hook.ID, win)
}

// Recover re-sends every delivery of the webhook created in the window that
// ended without success (failed, or cancelled while the webhook was
// disabled), and returns how many.
func (s *Service) Recover(ctx context.Context, hook repo.Webhook, win repo.RecoverWindow) (int, error) {
	if !hook.Active {
		return 0, inactive("recovering")
	}
	ids, err := s.store.Recover(ctx, hook.WorkspaceID, hook.ID, win)
	if err != nil {
		return 0, fmt.Errorf("recover webhook %s: %w", hook.ID, err)
	}
	s.enqueue(ctx, ids)
	// A recovery that covers the offer kept on the webhook uses it up: the
	// deliveries it counts stay failed, so only this says it was taken.
	if offer, ok := s.offerWindow(hook); ok && !win.Since.After(offer.Since) && !win.Until.Before(offer.Until) {
		if err := s.store.ClearRecoveryOffer(ctx, hook.WorkspaceID, hook.ID); err != nil {
			return len(ids), err
		}
	}
	s.log.InfoContext(ctx, "deliveries recovered", "webhook_id", hook.ID, "count", len(ids))
	return len(ids), nil
}

// TestResult is what the endpoint answered a test event.
type TestResult struct {
	DeliveryID string
	EventID    string
	Status     delivery.Status // of the delivery after its first attempt
	Succeeded  bool
	// Attempt is the attempt, or nil when the delivery ended without one
	// (the webhook was deleted meanwhile).
	Attempt *repo.Attempt
}

// SendTest sends a webhook.test event to one webhook, whatever it is
// subscribed to and even while it is inactive (to check a fix before
// re-enabling it), waits for its one attempt and returns what the endpoint
// said. The delivery stays in the history like any other; it is not
// retried and does not count toward the webhook's health.
func (s *Service) SendTest(ctx context.Context, hook repo.Webhook) (TestResult, error) {
	data, err := json.Marshal(map[string]string{
		"webhook_id": hook.ID,
		"message":    "This is a test event from Trackelio Webhooks.",
	})
	if err != nil {
		return TestResult{}, err
	}
	ev, err := s.newEvent(hook.WorkspaceID, delivery.TestEventType, data)
	if err != nil {
		return TestResult{}, err
	}
	acc, err := s.publish(ctx, ev, hook.ID)
	if err != nil {
		return TestResult{}, err
	}
	deliveryID := acc.DeliveryIDs[0]

	deadline := time.Now().Add(s.testWait)
	for {
		d, err := s.store.Delivery(ctx, hook.WorkspaceID, deliveryID)
		if err != nil {
			return TestResult{}, err
		}
		if d.Attempts > 0 || d.Status != delivery.StatusPending {
			as, err := s.store.Attempts(ctx, deliveryID)
			if err != nil {
				return TestResult{}, err
			}
			res := TestResult{DeliveryID: deliveryID, EventID: ev.ID, Status: d.Status}
			if len(as) > 0 {
				res.Attempt = &as[0]
				res.Succeeded = as[0].StatusCode != nil && *as[0].StatusCode >= 200 && *as[0].StatusCode <= 299
			}
			return res, nil
		}
		if time.Now().After(deadline) {
			return TestResult{}, &TestTimeout{DeliveryID: deliveryID, Waited: s.testWait}
		}
		select {
		case <-ctx.Done():
			return TestResult{}, ctx.Err()
		case <-time.After(testPoll):
		}
	}
}
