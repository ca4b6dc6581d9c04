package dashboard

import (
	"errors"
	"net/http"

	"github.com/trackelio/webhooks/internal/manage"
)

// webhookRevealSecret shows the signing secret once, on the page it
// redirects to. It is a POST, so the secret is never in a URL, a history
// entry or a cache; the redirect carries a single-use flash instead.
func (d *Dashboard) webhookRevealSecret(w http.ResponseWriter, r *http.Request, v *visit) error {
	hook, err := d.loadWebhook(r, v)
	if err != nil {
		return err
	}
	return d.redirectWithFlash(w, r, v, flashRevealed, hook.ID, webhookPath(hook.ID), "#secret")
}

// webhookRotateSecret issues a new secret; the old one keeps signing
// webhook-signature for the chosen grace period. Without one, receivers
// still holding the old secret fail from the next attempt on, so that asks
// first. The new secret is shown once, on the page the rotation redirects
// to: a reload shows the page, not a second rotation.
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
	if grace == 0 && !confirmed(r) {
		return d.confirm(w, r, v, confirmView{
			Heading: "Rotate the secret with no grace period?",
			Paragraphs: []string{
				"The old secret stops signing at once: from the next attempt on, deliveries to " + hook.URL +
					" are signed with the new secret only, and a receiver that still verifies with the old one refuses them until it is updated.",
				"Choose a grace period instead to keep the old secret valid while you update your receivers.",
			},
			Action: webhookPath(hook.ID) + "/rotate-secret", Fields: resend(r.PostForm), Button: "Rotate now", Danger: true,
			Cancel: webhookPath(hook.ID) + "#secret",
		}, webhooksCrumb, crumb{Label: hook.URL, Href: webhookPath(hook.ID)}, crumb{Label: "Rotate the secret"})
	}
	if _, err := d.manage.RotateSecret(r.Context(), v.WorkspaceID, hook.ID, grace); err != nil {
		return err
	}
	return d.redirectWithFlash(w, r, v, flashRotated, hook.ID, webhookPath(hook.ID), "#secret")
}
