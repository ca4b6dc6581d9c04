package dashboard

import (
	"fmt"
	"net/http"

	"github.com/trackelio/webhooks/internal/delivery"
)

// deliveryRedeliver creates a new delivery of the same event to the same
// webhook and opens it. While the delivery is still pending, a redelivery
// runs beside its retries and the endpoint may get the event twice, so
// that asks first.
func (d *Dashboard) deliveryRedeliver(w http.ResponseWriter, r *http.Request, v *visit) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if !confirmed(r) {
		dl, err := d.store.Delivery(r.Context(), v.WorkspaceID, id)
		if err != nil {
			return err
		}
		if dl.Status == delivery.StatusPending {
			return d.confirm(w, r, v, confirmView{
				Heading:    "Redeliver while it is still being delivered?",
				Paragraphs: []string{pendingState(d.attempts(dl)), "A redelivery is a second, separate delivery of the same event that starts now: your endpoint may get the event twice, under two delivery ids."},
				Action:     deliveryPath(id) + "/redeliver", Button: "Redeliver anyway", Cancel: deliveryPath(id),
			}, webhooksCrumb, crumb{Label: "Delivery " + shortID(id), Href: deliveryPath(id)}, crumb{Label: "Redeliver"})
		}
	}
	nd, err := d.manage.Redeliver(r.Context(), v.WorkspaceID, id)
	if err != nil {
		return err
	}
	http.Redirect(w, r, deliveryPath(nd.ID)+"?notice=redelivered", http.StatusSeeOther)
	return nil
}

// pendingState says where a pending delivery's attempts stand.
func pendingState(a attemptsView) string {
	s := fmt.Sprintf("This delivery is still pending: %d of its %d attempts made", a.Made, a.Max)
	if a.Next != nil {
		s += ", the next at " + a.Next.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	return s + "."
}
