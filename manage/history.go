package manage

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/trackelio/webhooks/catalog"
	"github.com/trackelio/webhooks/repo"
)

// HistoryQuery asks for one page of a webhook's delivery history. Status,
// EventType and Cursor are as a caller sent them; empty means any, or the
// newest page.
type HistoryQuery struct {
	Status    string
	EventType string
	Cursor    string
	Limit     int
}

// HistoryPage is one page of a history, newest first.
type HistoryPage struct {
	Deliveries []repo.Delivery
	// Next is the cursor of the following (older) page, or "" at the end.
	Next string
}

// History reads one page of a webhook's delivery history. It never counts
// the history: one row past the page tells whether an older page exists.
func (s *Service) History(ctx context.Context, workspaceID, webhookID string, q HistoryQuery) (HistoryPage, error) {
	if q.Status != "" && !slices.Contains(repo.Statuses, q.Status) {
		return HistoryPage{}, invalid("status", "status must be one of %s", strings.Join(repo.Statuses, ", "))
	}
	if q.EventType != "" && q.EventType != catalog.TestType && !catalog.Known(q.EventType) {
		return HistoryPage{}, invalid("event_type", "unknown event type %q; see GET /v1/event-types", q.EventType)
	}
	var after *repo.Cursor
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor)
		if err != nil {
			return HistoryPage{}, err
		}
		after = &c
	}
	ds, err := s.store.Deliveries(ctx, workspaceID, webhookID, repo.DeliveryFilter{Status: q.Status, EventType: q.EventType}, after, q.Limit+1)
	if err != nil {
		return HistoryPage{}, err
	}
	page := HistoryPage{Deliveries: ds}
	if len(ds) > q.Limit {
		page.Deliveries = ds[:q.Limit]
		page.Next = encodeCursor(ds[q.Limit-1])
	}
	return page, nil
}

func encodeCursor(d repo.Delivery) string {
	return base64.RawURLEncoding.EncodeToString([]byte(d.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + d.ID))
}

func decodeCursor(s string) (repo.Cursor, error) {
	bad := invalid("cursor", "cursor is not one this API returned")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return repo.Cursor{}, bad
	}
	ts, id, ok := strings.Cut(string(raw), "|")
	if !ok {
		return repo.Cursor{}, bad
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return repo.Cursor{}, bad
	}
	if _, err := uuid.Parse(id); err != nil {
		return repo.Cursor{}, bad
	}
	return repo.Cursor{CreatedAt: t, ID: id}, nil
}
