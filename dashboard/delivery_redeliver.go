package dashboard

import (
	"net/http"
)

// deliveryRedeliver creates a new delivery of the same event to the same
// webhook and opens it.
func (d *Dashboard) deliveryRedeliver(w http.ResponseWriter, r *http.Request, v *visit) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	nd, err := d.manage.Redeliver(r.Context(), v.WorkspaceID, id)
	if err != nil {
		return err
	}
	http.Redirect(w, r, deliveryPath(nd.ID)+"?notice=redelivered", http.StatusSeeOther)
	return nil
}
