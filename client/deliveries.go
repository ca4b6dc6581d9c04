package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// The delivery statuses.
const (
	DeliveryPending   DeliveryStatus = "pending"   // attempts to come
	DeliverySucceeded DeliveryStatus = "succeeded" // an attempt got a 2xx
	DeliveryFailed    DeliveryStatus = "failed"    // its attempts ran out
	DeliveryCancelled DeliveryStatus = "cancelled" // its webhook was disabled or deleted
)

// Delivery is one event's delivery to one webhook, as lists show it.
type Delivery struct {
	ID        string `json:"id"`
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	WebhookID string `json:"webhook_id"`
	// RedeliveryOf names the delivery this one repeats, nil for none.
	RedeliveryOf *string        `json:"redelivery_of"`
	Status       DeliveryStatus `json:"status"`
	// Attempts counts the attempts made so far.
	Attempts int `json:"attempts"`
	// StatusCode, ResponseBody (at most 64 KiB, ResponseTruncated when
	// cut) and LastError are those of the latest attempt.
	StatusCode        *int       `json:"status_code"`
	ResponseBody      string     `json:"response_body"`
	ResponseTruncated bool       `json:"response_truncated"`
	LastError         *string    `json:"last_error"`
	LastAttemptAt     *time.Time `json:"last_attempt_at"`
	NextAttemptAt     *time.Time `json:"next_attempt_at"`
	FinishedAt        *time.Time `json:"finished_at"`
	CreatedAt         time.Time  `json:"created_at"`
}

// DeliveryDetail is a delivery with its attempts, as GetDelivery reads it.
type DeliveryDetail struct {
	// Delivery.Attempts equals AttemptCount.
	Delivery
	// Attempts lists every attempt, first first.
	Attempts     []Attempt `json:"attempts"`
	AttemptCount int       `json:"attempt_count"`
}

// Attempt is one try at delivering: what was sent and what came back.
type Attempt struct {
	Attempt int `json:"attempt"`
	// StatusCode is nil when no answer came; Error says why.
	StatusCode        *int   `json:"status_code"`
	ResponseBody      string `json:"response_body"`
	ResponseTruncated bool   `json:"response_truncated"`
	// ResponseHeaders are the endpoint's; RequestHeaders those sent,
	// signatures included.
	ResponseHeaders map[string]string `json:"response_headers"`
	// ResponseHeadersDropped counts the endpoint's headers that were not
	// stored: past 50 headers or 8 KiB.
	ResponseHeadersDropped int               `json:"response_headers_dropped"`
	RequestHeaders         map[string]string `json:"request_headers"`
	Error                  *string           `json:"error"`
	DurationMS             int               `json:"duration_ms"`
	CreatedAt              time.Time         `json:"created_at"`
}

// DeliveryFilter picks a page of a webhook's deliveries. Zero fields do not
// filter.
type DeliveryFilter struct {
	Status    DeliveryStatus
	EventType string
	// Limit is the page size, 1 to 100; 0 takes the API's 20.
	Limit int
	// Cursor is a DeliveryPage's NextCursor, for the page after it.
	Cursor string
}

func (f DeliveryFilter) query() url.Values {
	q := url.Values{}
	if f.Status != "" {
		q.Set("status", string(f.Status))
	}
	if f.EventType != "" {
		q.Set("event_type", f.EventType)
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Cursor != "" {
		q.Set("cursor", f.Cursor)
	}
	return q
}

// DeliveryPage is one page of a webhook's deliveries, newest first.
type DeliveryPage struct {
	Data []Delivery `json:"data"`
	// NextCursor reads the next, older page; empty on the last page.
	NextCursor string `json:"next_cursor"`
}

// ListDeliveries reads one page of a webhook's deliveries.
func (c *Client) ListDeliveries(ctx context.Context, webhookID string, f DeliveryFilter) (DeliveryPage, error) {
	path, err := pathOf("webhooks", webhookID, "deliveries")
	if err != nil {
		return DeliveryPage{}, err
	}
	var page DeliveryPage
	_, err = c.do(ctx, call{method: http.MethodGet, path: path, query: f.query(), idempotent: true}, &page)
	return page, err
}

// AllDeliveries walks a webhook's deliveries, newest first, a page of
// f.Limit at a time from f.Cursor on. It stops at the first error, which
// it yields.
func (c *Client) AllDeliveries(ctx context.Context, webhookID string, f DeliveryFilter) iter.Seq2[Delivery, error] {
	return func(yield func(Delivery, error) bool) {
		for {
			page, err := c.ListDeliveries(ctx, webhookID, f)
			if err != nil {
				yield(Delivery{}, err)
				return
			}
			for _, d := range page.Data {
				if !yield(d, nil) {
					return
				}
			}
			if page.NextCursor == "" {
				return
			}
			f.Cursor = page.NextCursor
		}
	}
}

// GetDelivery reads a delivery with its attempts.
func (c *Client) GetDelivery(ctx context.Context, id string) (DeliveryDetail, error) {
	path, err := pathOf("deliveries", id)
	if err != nil {
		return DeliveryDetail{}, err
	}
	var d DeliveryDetail
	_, err = c.do(ctx, call{method: http.MethodGet, path: path, idempotent: true}, &d)
	d.Delivery.Attempts = d.AttemptCount
	return d, err
}

// Redeliver sends a delivery's event again to the same webhook, as a new
// delivery, which it returns; the webhook must be active. Each call makes
// another delivery, so it is retried only when the API certainly did not
// act.
func (c *Client) Redeliver(ctx context.Context, deliveryID string) (Delivery, error) {
	path, err := pathOf("deliveries", deliveryID, "redeliver")
	if err != nil {
		return Delivery{}, err
	}
	var d Delivery
	_, err = c.do(ctx, call{method: http.MethodPost, path: path}, &d)
	return d, err
}
