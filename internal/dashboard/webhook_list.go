package dashboard

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/trackelio/webhooks/repo"
)

// webhookListView is Workspaces > Webhooks.
type webhookListView struct {
	frame
	// Attention is the banner naming the webhooks in trouble; none, no
	// banner.
	Attention []attentionGroup
	Webhooks  []webhookRow
}

type webhookRow struct {
	ID, URL, Description string
	Events               []string
	Health               badge
	FailureCount         int64
	ConsecutiveFailures  int
	// LastCode is the last attempted delivery's status code (0: no
	// response), at LastAt; LastAt is nil before the first attempt.
	LastCode    int
	LastAt      *time.Time
	LastOutcome badge
	SuccessRate *float64
}

// webhookList shows every webhook of the workspace with its health.
func (d *Dashboard) webhookList(w http.ResponseWriter, r *http.Request, v *visit) error {
	hooks, err := d.store.Webhooks(r.Context(), v.WorkspaceID)
	if err != nil {
		return err
	}
	ids := make([]string, len(hooks))
	for i, h := range hooks {
		ids[i] = h.ID
	}
	// Independent reads, made at once.
	var (
		wg                sync.WaitGroup
		rates             map[string]float64
		last              map[string]repo.LastAttempt
		errRates, errLast error
	)
	wg.Go(func() { rates, errRates = d.store.SuccessRates(r.Context(), ids) })
	wg.Go(func() { last, errLast = d.store.LastAttempts(r.Context(), ids) })
	wg.Wait()
	if err := errors.Join(errRates, errLast); err != nil {
		return err
	}
	view := webhookListView{frame: v.frame("Webhooks", crumb{Label: "Webhooks"}), Webhooks: make([]webhookRow, len(hooks)),
		Attention: attention(hooks, d.disable)}
	view.Notice = notice(r)
	for i, h := range hooks {
		row := webhookRow{
			ID: h.ID, URL: h.URL, Description: h.Description, Events: h.Events, Health: webhookHealth(h.Health),
			FailureCount: h.FailureCount, ConsecutiveFailures: h.ConsecutiveFailures,
		}
		if rate, ok := rates[h.ID]; ok {
			row.SuccessRate = &rate
		}
		if la, ok := last[h.ID]; ok {
			at := la.At
			row.LastAt = &at
			row.LastCode = orNone(la.StatusCode)
			row.LastOutcome = deliveryOutcome(repo.Delivery{Status: la.Status, Attempts: 1})
		}
		view.Webhooks[i] = row
	}
	return d.render(w, r, http.StatusOK, "webhooks", view)
}

// notices are the messages a redirect after a change may ask a page to
// show; only these codes are accepted, so a link cannot put words on a page.
var notices = map[string]string{
	"deleted":     "The webhook was deleted. Its pending deliveries were cancelled.",
	"saved":       "Your changes were saved.",
	"recovered":   "The failed deliveries are being sent again; they appear in the history below.",
	"enabled":     "The webhook is active again.",
	"redelivered": "A new delivery of the same event was created; its attempts appear below.",
	"dismissed":   "The offer to recover was dismissed.",
	"deactivated": "The webhook is inactive. Its pending deliveries are cancelled.",
}

func notice(r *http.Request) string { return notices[r.URL.Query().Get("notice")] }
