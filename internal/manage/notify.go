package manage

import (
	"context"
	"encoding/json"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/repo"
)

const (
	// MaxNotifyEmails bounds a webhook's notification addresses.
	MaxNotifyEmails = 10
	// maxAddressLen is the longest address SMTP carries (RFC 5321's path
	// limit, less its angle brackets).
	maxAddressLen = 254
)

// validateNotifyEmails checks a webhook's notification addresses: at most
// MaxNotifyEmails, each a bare address (ops@example.com), without control
// characters, which would let a value write its own mail headers. They are
// stored lower-cased and without duplicates.
func validateNotifyEmails(in []string) ([]string, FieldErrors) {
	if len(in) > MaxNotifyEmails {
		return nil, invalid("notify_emails", "notify_emails lists %d addresses; at most %d", len(in), MaxNotifyEmails)
	}
	out := make([]string, 0, len(in))
	for _, raw := range in {
		if i := strings.IndexFunc(raw, unicode.IsControl); i >= 0 {
			return nil, invalid("notify_emails", "notify_emails: %q contains a line break or another control character", raw[:i])
		}
		a := strings.TrimSpace(raw)
		if a == "" {
			continue
		}
		parsed, err := mail.ParseAddress(a)
		switch {
		case err != nil || len(a) > maxAddressLen:
			return nil, invalid("notify_emails", "notify_emails: %q is not an email address like ops@example.com", a)
		case parsed.Name != "" || parsed.Address != a:
			return nil, invalid("notify_emails", "notify_emails: give the address only, like %s, without a name or brackets", parsed.Address)
		}
		if a = strings.ToLower(a); !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// validateNotifyOn checks which notices a webhook mails: notice types,
// duplicates dropped. An empty list mails nothing.
func validateNotifyOn(in []string) ([]string, FieldErrors) {
	out := make([]string, 0, len(in))
	for _, n := range in {
		if _, ok := delivery.ParseNotice(n); !ok {
			return nil, invalid("notify_on", "notify_on: unknown notice %q; one of %s", n, noticeNames())
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

func noticeNames() string {
	names := make([]string, len(delivery.Notices))
	for i, n := range delivery.Notices {
		names[i] = string(n)
	}
	return strings.Join(names, ", ")
}

// dispatchNotices hands the notices a change decided to the workers. Like
// enqueue, a failure is logged: the notices are stored, and the outbox
// sweep dispatches what was not.
func (s *Service) dispatchNotices(ctx context.Context, ids []string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), enqueueTimeout)
	defer cancel()
	for _, id := range ids {
		if err := s.enqueuer.EnqueueNotice(ctx, id); err != nil {
			s.log.WarnContext(ctx, "enqueue notice failed; the outbox sweep will retry", "notice_id", id, "error", err)
		}
	}
}

// PublishNotice sends a notice to the operator's operational webhooks: an
// event of the notice's type in the operational workspace, whose envelope
// names the customer's workspace, through the same outbox, retries and
// history as any event. Its idempotency key is the notice's id, so a
// dispatch run twice publishes once. Without operational webhooks it does
// nothing.
func (s *Service) PublishNotice(ctx context.Context, n repo.Notice) error {
	opsID, ok, err := s.store.OperationalWorkspace(ctx)
	if err != nil || !ok {
		return err
	}
	data, err := json.Marshal(n.Figures)
	if err != nil {
		return fmt.Errorf("encode %s figures: %w", n.Kind, err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("event id: %w", err)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	body, err := renderBody(outgoingBody{ID: id.String(), Type: string(n.Kind), CreatedAt: now.Format(time.RFC3339Nano), WorkspaceID: n.WorkspaceID, Data: data})
	if err != nil {
		return err
	}
	ev := repo.NewEvent{ID: id.String(), WorkspaceID: opsID, Type: string(n.Kind), Body: body, IdempotencyKey: "notice:" + n.ID, CreatedAt: now}
	_, err = s.publish(ctx, ev, "")
	return err
}
