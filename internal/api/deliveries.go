package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/repo"
)

const (
	defaultPageSize = 20
	maxPageSize     = 100
)

type deliveryView struct {
	ID                string     `json:"id"`
	EventID           string     `json:"event_id"`
	EventType         string     `json:"event_type"`
	WebhookID         string     `json:"webhook_id"`
	RedeliveryOf      *string    `json:"redelivery_of"`
	Status            string     `json:"status"`
	Attempts          int        `json:"attempts"`
	StatusCode        *int       `json:"status_code"`
	ResponseBody      string     `json:"response_body"`
	ResponseTruncated bool       `json:"response_truncated"`
	LastError         *string    `json:"last_error"`
	LastAttemptAt     *time.Time `json:"last_attempt_at"`
	NextAttemptAt     *time.Time `json:"next_attempt_at"`
	FinishedAt        *time.Time `json:"finished_at"`
	CreatedAt         time.Time  `json:"created_at"`
}

type attemptView struct {
	Attempt           int             `json:"attempt"`
	StatusCode        *int            `json:"status_code"`
	ResponseBody      string          `json:"response_body"`
	ResponseTruncated bool            `json:"response_truncated"`
	ResponseHeaders   json.RawMessage `json:"response_headers"`
	HeadersDropped    int             `json:"response_headers_dropped"`
	RequestHeaders    json.RawMessage `json:"request_headers"`
	Error             *string         `json:"error"`
	DurationMS        int             `json:"duration_ms"`
	CreatedAt         time.Time       `json:"created_at"`
}

// deliveryDetail replaces the attempt count with the attempts themselves.
type deliveryDetail struct {
	deliveryView
	Attempts     []attemptView `json:"attempts"`
	AttemptCount int           `json:"attempt_count"`
}

func newDeliveryView(d repo.Delivery) deliveryView {
	return deliveryView{
		ID: d.ID, EventID: d.EventID, EventType: d.EventType, WebhookID: d.WebhookID,
		RedeliveryOf: d.RedeliveryOf, Status: string(d.Status), Attempts: d.Attempts,
		StatusCode: d.StatusCode, ResponseBody: string(d.ResponseBody), ResponseTruncated: d.ResponseTruncated,
		LastError: d.LastError, LastAttemptAt: d.LastAttemptAt, NextAttemptAt: d.NextAttemptAt,
		FinishedAt: d.FinishedAt, CreatedAt: d.CreatedAt,
	}
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.loadWebhook(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit := defaultPageSize
	if v := q.Get("limit"); v != "" {
		limit, err = strconv.Atoi(v)
		if err != nil || limit < 1 || limit > maxPageSize {
			return invalid("limit", "limit must be a whole number from 1 to 100")
		}
	}
	page, err := s.manage.History(r.Context(), workspaceID(r.Context()), hook.ID, manage.HistoryQuery{
		Status: q.Get("status"), EventType: q.Get("event_type"), Cursor: q.Get("cursor"), Limit: limit,
	})
	if err != nil {
		return err
	}
	var next *string
	if page.Next != "" {
		next = &page.Next
	}
	views := make([]deliveryView, len(page.Deliveries))
	for i, d := range page.Deliveries {
		views[i] = newDeliveryView(d)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": views, "next_cursor": next})
	return nil
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	d, err := s.store.Delivery(r.Context(), workspaceID(r.Context()), id)
	if err != nil {
		return err
	}
	as, err := s.store.Attempts(r.Context(), d.ID)
	if err != nil {
		return err
	}
	detail := deliveryDetail{deliveryView: newDeliveryView(d), Attempts: make([]attemptView, len(as)), AttemptCount: d.Attempts}
	for i, a := range as {
		detail.Attempts[i] = attemptView{
			Attempt: a.Attempt, StatusCode: a.StatusCode, ResponseBody: string(a.ResponseBody),
			ResponseTruncated: a.ResponseTruncated, ResponseHeaders: a.ResponseHeaders, HeadersDropped: a.ResponseHeadersDropped,
			RequestHeaders: a.RequestHeaders, Error: a.Error, DurationMS: a.DurationMS, CreatedAt: a.CreatedAt,
		}
	}
	writeJSON(w, http.StatusOK, detail)
	return nil
}

func (s *Server) redeliver(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	nd, err := s.manage.Redeliver(r.Context(), workspaceID(r.Context()), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, newDeliveryView(nd))
	return nil
}
