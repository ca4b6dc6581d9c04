package dashboard

import (
	"cmp"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/trackelio/webhooks/repo"
)

// deliveryView is a delivery's page: the exact request, then every attempt.
type deliveryView struct {
	frame
	ID, EventID, EventType string
	WebhookID, WebhookURL  string
	WebhookGone            bool // deleted: no link, no redelivery
	CanRedeliver           bool
	RedeliveryOf           string
	Outcome                badge
	Attempts               attemptsView
	Failures               int
	CreatedAt              time.Time
	SentAt                 *time.Time // the latest attempt's time
	FinishedAt             *time.Time
	// Request is what the latest attempt sent; nil before the first.
	Request     []header
	RequestFrom int // the attempt whose headers are shown
	Body        bodyView
	History     []attemptView // newest first
}

type header struct{ Name, Value string }

type attemptView struct {
	Number     int
	StatusCode int
	Error      string
	DurationMS int
	At         time.Time
	Headers    []header
	// HeadersDropped counts the response headers not stored.
	HeadersDropped int
	Body           string
	Truncated      bool
}

func (d *Dashboard) deliveryDetail(w http.ResponseWriter, r *http.Request, v *visit) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	dl, err := d.store.Delivery(ctx, v.WorkspaceID, id)
	if err != nil {
		return err
	}
	body, err := d.store.EventBody(ctx, v.WorkspaceID, dl.EventID)
	if err != nil {
		return err
	}
	attempts, err := d.store.Attempts(ctx, dl.ID)
	if err != nil {
		return err
	}
	view := deliveryView{
		ID: dl.ID, EventID: dl.EventID, EventType: dl.EventType, WebhookID: dl.WebhookID, Outcome: deliveryOutcome(dl),
		Attempts: d.attempts(dl), Failures: failedAttempts(dl), CreatedAt: dl.CreatedAt,
		SentAt: dl.LastAttemptAt, FinishedAt: dl.FinishedAt, RedeliveryOf: orNone(dl.RedeliveryOf),
		Body: newBodyView(body),
	}
	hook, err := d.store.Webhook(ctx, v.WorkspaceID, dl.WebhookID)
	switch {
	case err == nil:
		view.WebhookURL, view.CanRedeliver = hook.URL, hook.Active
	case errors.Is(err, repo.ErrNotFound):
		view.WebhookGone = true
	default:
		return err
	}
	for _, a := range slices.Backward(attempts) {
		view.History = append(view.History, attemptView{
			Number: a.Attempt, StatusCode: orNone(a.StatusCode), Error: orNone(a.Error), DurationMS: a.DurationMS, At: a.CreatedAt,
			Headers: headers(a.ResponseHeaders), HeadersDropped: a.ResponseHeadersDropped, Body: text(a.ResponseBody), Truncated: a.ResponseTruncated,
		})
	}
	if n := len(attempts); n > 0 {
		view.Request, view.RequestFrom = headers(attempts[n-1].RequestHeaders), attempts[n-1].Attempt
	}
	hookCrumb := crumb{Label: cmp.Or(view.WebhookURL, "Deleted webhook")}
	if !view.WebhookGone {
		hookCrumb.Href = webhookPath(dl.WebhookID)
	}
	view.frame = v.frame("Delivery "+dl.ID, webhooksCrumb, hookCrumb, crumb{Label: "Delivery " + shortID(dl.ID)})
	view.Notice = notice(r)
	return d.render(w, r, http.StatusOK, "delivery", view)
}

// headers lists a stored header object by name.
func headers(raw []byte) []header {
	var m map[string]string
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	out := make([]header, 0, len(m))
	for k, v := range m {
		out = append(out, header{Name: k, Value: v})
	}
	slices.SortFunc(out, func(a, b header) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return out
}

// shortID is the end of a UUIDv7, the part that differs between neighbours.
func shortID(id string) string {
	if len(id) < 8 {
		return id
	}
	return "…" + id[len(id)-8:]
}

// deliveryBody downloads the event body a delivery sends, the exact bytes
// signed, whatever its size: the page shows at most rawShown of it.
func (d *Dashboard) deliveryBody(w http.ResponseWriter, r *http.Request, v *visit) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	dl, err := d.store.Delivery(r.Context(), v.WorkspaceID, id)
	if err != nil {
		return err
	}
	body, err := d.store.EventBody(r.Context(), v.WorkspaceID, dl.EventID)
	if err != nil {
		return err
	}
	h := w.Header()
	// An attachment, never rendered: the body is the producer's data.
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="event-`+dl.EventID+`.json"`)
	w.Write(body) //nolint:errcheck // the client went away
	return nil
}
