package dashboard

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/trackelio/webhooks/internal/catalog"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/repo"
)

// historyPageSize is how many deliveries the history shows at once.
const historyPageSize = 25

// webhookView is the webhook detail page.
type webhookView struct {
	frame
	ID, URL, Description string
	Events               []string
	Active               bool
	Health               badge
	FailureCount         int64
	ConsecutiveFailures  int
	LastSuccessAt        *time.Time
	LastFailureAt        *time.Time
	DisabledAt           *time.Time
	SuccessRate          *float64
	Day, Week            chart
	History              historyView
	Form                 webhookForm
	// PreviousExpiresAt is the end of a rotation's grace period, while the
	// previous secret still signs.
	PreviousExpiresAt *time.Time
	// What a flash or the URL asked the page to show once.
	Secret   string
	Rotated  bool // Secret is the new one of a rotation
	Test     *testView
	Recovery *recoveryView
	Snippets snippets
	// Trouble opens the page of a failing or disabled webhook; nil when it
	// is healthy or its owner switched it off.
	Trouble *troubleView
	Notices noticesView
}

type recoveryView struct {
	Failed int
	Form   recoverForm
}

// historyView is the delivery history with its filters.
type historyView struct {
	Rows              []historyRow
	Status, EventType string
	Statuses          []option
	EventTypes        []option
	// Links to the neighbouring pages; empty when there is no such page.
	Older, Newer, Newest string
	Error                string
}

type option struct {
	Value, Label string
	Selected     bool
}

// historyRow is a delivery as the history lists it. SentAt is its latest
// attempt's time ("when the delivery was sent"), nil before the first.
type historyRow struct {
	ID         string
	SentAt     *time.Time
	CreatedAt  time.Time
	EventType  string
	StatusCode int
	Reason     string // why there is no status code: timed out, refused, blocked
	Body       string
	Attempts   attemptsView
	Failures   int
	Outcome    badge
}

// detailExtras is what a form posted to the detail page brings back to it.
type detailExtras struct {
	status int
	form   *webhookForm
	notice string
}

// webhookDetail shows a webhook: health, charts, history, test, secret,
// settings and verification snippets, and once what a form's redirect asks
// for: a secret (a flash), a test's answer (?test=), a notice.
func (d *Dashboard) webhookDetail(w http.ResponseWriter, r *http.Request, v *visit) error {
	hook, err := d.loadWebhook(r, v)
	if err != nil {
		return err
	}
	return d.showWebhook(w, r, v, hook, detailExtras{notice: notice(r)})
}

// loadWebhook reads the {id} webhook of the visitor's workspace.
func (d *Dashboard) loadWebhook(r *http.Request, v *visit) (repo.Webhook, error) {
	id, err := pathID(r)
	if err != nil {
		return repo.Webhook{}, err
	}
	return d.store.Webhook(r.Context(), v.WorkspaceID, id)
}

// pathID is the {id} of the path; anything but a UUID is repo.ErrNotFound
// rather than a query.
func pathID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return "", repo.ErrNotFound
	}
	return id, nil
}

func (d *Dashboard) showWebhook(w http.ResponseWriter, r *http.Request, v *visit, hook repo.Webhook, x detailExtras) error {
	ctx := r.Context()
	view := webhookView{
		frame: v.frame(hook.URL, webhooksCrumb, crumb{Label: hook.URL}),
		ID:    hook.ID, URL: hook.URL, Description: hook.Description, Events: hook.Events, Active: hook.Active,
		Health: webhookHealth(hook.Health), FailureCount: hook.FailureCount, ConsecutiveFailures: hook.ConsecutiveFailures,
		LastSuccessAt: hook.LastSuccessAt, LastFailureAt: hook.LastFailureAt, DisabledAt: hook.DisabledAt,
		Snippets: newSnippets(""),
	}
	if end := hook.PreviousSecretExpiresAt; end != nil && end.After(d.now()) {
		view.PreviousExpiresAt = end
	}
	view.Notice = x.notice
	if x.form != nil {
		view.Form = *x.form
	} else {
		view.Form = d.storedWebhookForm(hook, v.CSRF)
	}
	// A page that answers a form shows no flash: the flash is for the
	// page its redirect leads to.
	if r.Method == http.MethodGet {
		kind, err := d.takeFlash(r, v, hook.ID)
		if err != nil {
			return err
		}
		if kind == flashRevealed || kind == flashRotated {
			view.Secret, view.Rotated = hook.Secret, kind == flashRotated
			view.Snippets = newSnippets(hook.Secret)
		}
	}
	// The reads are independent; running them at once makes the page wait
	// for the slowest instead of their sum.
	var (
		wg                                                sync.WaitGroup
		rates                                             map[string]float64
		counts                                            []repo.HourCount
		offer                                             *manage.RecoveryOffer
		trouble                                           *repo.Trouble
		errRates, errCounts, errHist, errOffer, errTested error
		errTrouble, errNotices                            error
	)
	now := d.now()
	wg.Go(func() { rates, errRates = d.store.SuccessRates(ctx, []string{hook.ID}) })
	wg.Go(func() {
		counts, errCounts = d.store.HourlyCounts(ctx, v.WorkspaceID, hook.ID, now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -6))
	})
	wg.Go(func() { view.History, errHist = d.history(r, v, hook.ID) })
	wg.Go(func() { offer, errOffer = d.manage.RecoveryOffer(ctx, hook) })
	wg.Go(func() { view.Notices, errNotices = d.notices(ctx, hook) })
	if inTrouble(hook.Health) {
		wg.Go(func() {
			t, err := d.store.WebhookTrouble(ctx, v.WorkspaceID, hook.ID)
			trouble, errTrouble = &t, err
		})
	}
	if id := r.URL.Query().Get("test"); id != "" && r.Method == http.MethodGet {
		wg.Go(func() { view.Test, errTested = d.testAnswer(ctx, v, hook.ID, id) })
	}
	wg.Wait()
	if err := errors.Join(errRates, errCounts, errHist, errOffer, errTested, errTrouble, errNotices); err != nil {
		return err
	}
	if rate, ok := rates[hook.ID]; ok {
		view.SuccessRate = &rate
	}
	if offer != nil {
		view.Recovery = &recoveryView{Failed: offer.FailedDeliveries, Form: recoverForm{WebhookID: hook.ID, CSRF: v.CSRF,
			Since: offer.Since, Until: offer.Until,
			Button: fmt.Sprintf("Recover %d %s", offer.FailedDeliveries, plural(offer.FailedDeliveries, "delivery", "deliveries"))}}
	}
	if trouble != nil {
		view.Trouble = newTroubleView(hook, *trouble, d.disable, v.CSRF, now)
	}
	view.Day, view.Week = deliveryCharts(counts, now)
	return d.render(w, r, cmp.Or(x.status, http.StatusOK), "webhook", view)
}

// history reads the page of the history the query asks for: filters by
// outcome and event type, and the cursor of "Older".
func (d *Dashboard) history(r *http.Request, v *visit, webhookID string) (historyView, error) {
	q := r.URL.Query()
	h := historyView{Status: q.Get("outcome"), EventType: q.Get("event_type")}
	h.Statuses = []option{{Value: "", Label: "All outcomes"}}
	for _, s := range delivery.Statuses {
		h.Statuses = append(h.Statuses, option{Value: string(s), Label: deliveryOutcome(repo.Delivery{Status: s}).Label, Selected: string(s) == h.Status})
	}
	h.EventTypes = []option{{Value: "", Label: "All events"}}
	for _, e := range append(catalog.All(), catalog.EventType{Type: delivery.TestEventType}) {
		h.EventTypes = append(h.EventTypes, option{Value: e.Type, Label: e.Type, Selected: e.Type == h.EventType})
	}
	page, err := d.manage.History(r.Context(), v.WorkspaceID, webhookID, manage.HistoryQuery{
		Status: h.Status, EventType: h.EventType, Cursor: q.Get("cursor"), Limit: historyPageSize,
	})
	var fe manage.FieldErrors
	if errors.As(err, &fe) {
		h.Error = "The history could not be filtered that way: " + fe.Error() + "."
		return h, nil
	}
	if err != nil {
		return h, err
	}
	for _, dl := range page.Deliveries {
		row := historyRow{
			ID: dl.ID, SentAt: dl.LastAttemptAt, CreatedAt: dl.CreatedAt, EventType: dl.EventType, StatusCode: orNone(dl.StatusCode),
			Body: excerpt(text(dl.ResponseBody), 80), Attempts: d.attempts(dl), Failures: failedAttempts(dl), Outcome: deliveryOutcome(dl),
		}
		if row.StatusCode == 0 && dl.LastError != nil {
			row.Reason = excerpt(*dl.LastError, 60)
		}
		h.Rows = append(h.Rows, row)
	}
	link := func(cursor string) string {
		p := url.Values{}
		if h.Status != "" {
			p.Set("outcome", h.Status)
		}
		if h.EventType != "" {
			p.Set("event_type", h.EventType)
		}
		if cursor != "" {
			p.Set("cursor", cursor)
		}
		s := webhookPath(webhookID)
		if len(p) > 0 {
			s += "?" + p.Encode()
		}
		return s + "#history"
	}
	if page.Next != "" {
		h.Older = link(page.Next)
	}
	if page.Prev != "" {
		h.Newer, h.Newest = link(page.Prev), link("")
	}
	return h, nil
}
