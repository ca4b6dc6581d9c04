package dashboard

import (
	"errors"
	"net/http"

	"github.com/trackelio/webhooks/internal/manage"
)

// webhookRecover re-sends what failed in the window of a recovery offer,
// which uses the offer up.
func (d *Dashboard) webhookRecover(w http.ResponseWriter, r *http.Request, v *visit) error {
	hook, err := d.loadWebhook(r, v)
	if err != nil {
		return err
	}
	since, until := r.PostForm.Get("since"), r.PostForm.Get("until")
	win, err := d.manage.RecoverWindow(&since, &until)
	var fe manage.FieldErrors
	if errors.As(err, &fe) {
		return d.showWebhook(w, r, v, hook, detailExtras{status: http.StatusUnprocessableEntity, notice: "Nothing was recovered: " + fe.Error() + "."})
	}
	if _, err := d.manage.Recover(r.Context(), hook, win); err != nil {
		return err
	}
	http.Redirect(w, r, webhookPath(hook.ID)+"?notice=recovered#history", http.StatusSeeOther)
	return nil
}

// webhookDismissRecovery removes the recovery offer from the webhook's page.
func (d *Dashboard) webhookDismissRecovery(w http.ResponseWriter, r *http.Request, v *visit) error {
	hook, err := d.loadWebhook(r, v)
	if err != nil {
		return err
	}
	if err := d.manage.DismissRecovery(r.Context(), hook); err != nil {
		return err
	}
	http.Redirect(w, r, webhookPath(hook.ID)+"?notice=dismissed", http.StatusSeeOther)
	return nil
}
