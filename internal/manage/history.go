package manage

import (
	"context"
	"encoding/base64"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/trackelio/webhooks/internal/catalog"
	"github.com/trackelio/webhooks/internal/delivery"
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
	// Prev is the cursor of the preceding (newer) page, or "" on the
	// newest page.
	Prev string
}

// History reads one page of a webhook's delivery history: the newest, the
// one older than a Next cursor, or the one newer than a Prev cursor (the
// newest page when fewer than a page's worth are newer). It never counts
// the history: one row past the page tells whether another page exists.
func (s *Service) History(ctx context.Context, workspaceID, webhookID string, q HistoryQuery) (HistoryPage, error) {
	var status delivery.Status
	if q.Status != "" {
		st, err := delivery.ParseStatus(q.Status)
		if err != nil {
			return HistoryPage{}, invalid("status", "%s", err)
		}
		status = st
	}
	if q.EventType != "" && q.EventType != delivery.TestEventType && !catalog.Known(q.EventType) {
		return HistoryPage{}, invalid("event_type", "unknown event type %q; see GET /v1/event-types", q.EventType)
	}
	var at *repo.Cursor
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor)
		if err != nil {
			return HistoryPage{}, err
		}
		at = &c
	}
	filter := repo.DeliveryFilter{Status: status, EventType: q.EventType}
	ds, err := s.store.Deliveries(ctx, workspaceID, webhookID, filter, at, q.Limit+1)
	if err != nil {
		return HistoryPage{}, err
	}
	if at == nil || !at.Newer {
		page := HistoryPage{Deliveries: ds}
		if len(ds) > q.Limit {
			page.Deliveries = ds[:q.Limit]
			page.Next = encodeCursor(ds[q.Limit-1], false)
		}
		if at != nil && len(page.Deliveries) > 0 {
			page.Prev = encodeCursor(page.Deliveries[0], true)
		}
		return page, nil
	}
	// Newer: the rows come newest first and end just above the cursor.
	if len(ds) <= q.Limit {
		return s.History(ctx, workspaceID, webhookID, HistoryQuery{Status: q.Status, EventType: q.EventType, Limit: q.Limit})
	}
	page := HistoryPage{Deliveries: ds[1:]}
	page.Prev = encodeCursor(page.Deliveries[0], true)
	page.Next = encodeCursor(page.Deliveries[len(page.Deliveries)-1], false)
	return page, nil
}

// newerMark ends the text of a cursor that asks for the newer page.
const newerMark = "|newer"

func encodeCursor(d repo.Delivery, newer bool) string {
	s := d.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + d.ID
	if newer {
		s += newerMark
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decodeCursor(s string) (repo.Cursor, error) {
	bad := invalid("cursor", "cursor is not one this API returned")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return repo.Cursor{}, bad
	}
	text, newer := strings.CutSuffix(string(raw), newerMark)
	ts, id, ok := strings.Cut(text, "|")
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
	return repo.Cursor{CreatedAt: t, ID: id, Newer: newer}, nil
}
