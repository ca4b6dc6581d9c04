package dashboard

import (
	"fmt"
	"net/http"

	"github.com/trackelio/webhooks/internal/manage"
)

// webhookUpdate saves the settings form, or, for the "Re-enable" button
// (form=enable), only turns the webhook back on; both redirect to the
// webhook's page. Turning an active webhook off cancels its pending
// deliveries, so that asks first and says how many. Re-enabling a webhook
// that was failing leaves an offer to recover what failed on its page.
func (d *Dashboard) webhookUpdate(w http.ResponseWriter, r *http.Request, v *visit) error {
	hook, err := d.loadWebhook(r, v)
	if err != nil {
		return err
	}
	var (
		in   manage.WebhookInput
		form *webhookForm
	)
	if r.PostForm.Get("form") == "enable" {
		on := true
		in.Active = &on
	} else {
		var f webhookForm
		in, f = d.readWebhookForm(r, webhookPath(hook.ID), v.CSRF)
		form = &f
	}
	turnsOff := hook.Active && in.Active != nil && !*in.Active
	if err := d.manage.CheckChange(in); turnsOff && err == nil && !confirmed(r) {
		pending, err := d.manage.CountPending(r.Context(), hook)
		if err != nil {
			return err
		}
		return d.confirm(w, r, v, confirmView{
			Heading:    "Turn this webhook off?",
			Paragraphs: []string{deactivationEffect(hook.URL, pending), "Events that occur while it is inactive are not queued for it."},
			Action:     webhookPath(hook.ID), Fields: resend(r.PostForm), Button: "Turn off", Danger: true,
			Cancel: webhookPath(hook.ID) + "#settings",
		}, webhooksCrumb, crumb{Label: hook.URL, Href: webhookPath(hook.ID)}, crumb{Label: "Turn off"})
	}
	if _, err := d.manage.UpdateWebhook(r.Context(), v.WorkspaceID, hook.ID, in); err != nil {
		if form == nil {
			return err
		}
		if err := form.withErrors(err); err != nil {
			return err
		}
		return d.showWebhook(w, r, v, hook, detailExtras{status: http.StatusUnprocessableEntity, form: form,
			notice: "The settings were not saved: correct the fields marked below."})
	}
	notice := "saved"
	switch {
	case form == nil:
		notice = "enabled"
	case turnsOff:
		notice = "deactivated"
	}
	http.Redirect(w, r, webhookPath(hook.ID)+"?notice="+notice, http.StatusSeeOther)
	return nil
}

// deactivationEffect says what turning a webhook off does to the
// deliveries waiting for it.
func deactivationEffect(url string, pending int) string {
	const underWay = " An attempt already under way finishes and is logged."
	switch {
	case pending == 0:
		return "Trackelio stops sending to " + url + ". No delivery is waiting for an attempt, so none is cancelled."
	case pending == 1:
		return "Trackelio stops sending to " + url + ". 1 pending delivery will be cancelled." + underWay
	case pending > manage.MaxPendingCounted:
		return fmt.Sprintf("Trackelio stops sending to %s. More than %d pending deliveries will be cancelled.%s", url, manage.MaxPendingCounted, underWay)
	default:
		return fmt.Sprintf("Trackelio stops sending to %s. %d pending deliveries will be cancelled.%s", url, pending, underWay)
	}
}
