package dashboard

import (
	"errors"
	"net/http"

	"github.com/trackelio/webhooks/manage"
)

// webhookRevealSecret shows the signing secret on the page it answers. It
// is a POST, so the secret is never in a URL, a history entry or a cache.
func (d *Dashboard) webhookRevealSecret(w http.ResponseWriter, r *http.Request, v *visit) error {
	hook, err := d.loadWebhook(r, v)
	if err != nil {
		return err
	}
	return d.showWebhook(w, r, v, hook, detailExtras{secret: hook.Secret})
}

// webhookRotateSecret issues a new secret; the old one keeps signing
// webhook-signature for the chosen grace period.
func (d *Dashboard) webhookRotateSecret(w http.ResponseWriter, r *http.Request, v *visit) error {
	hook, err := d.loadWebhook(r, v)
	if err != nil {
		return err
	}
	text := r.PostForm.Get("grace_period")
	grace, err := manage.GracePeriod(&text)
	var fe manage.FieldErrors
	if errors.As(err, &fe) {
		return d.showWebhook(w, r, v, hook, detailExtras{status: http.StatusUnprocessableEntity, notice: "The secret was not rotated: " + fe.Error() + "."})
	}
	rot, err := d.manage.RotateSecret(r.Context(), v.WorkspaceID, hook.ID, grace)
	if err != nil {
		return err
	}
	return d.showWebhook(w, r, v, rot.Webhook, detailExtras{rotation: &rot, notice: "The secret was rotated. Update your receivers with the new secret."})
}
