package dashboard

import (
	"net/http"

	"github.com/trackelio/webhooks/manage"
)

// webhookUpdate saves the settings form, or, for the "Re-enable" button
// (form=enable), only turns the webhook back on. Re-enabling a webhook that
// was failing shows what failed meanwhile, with a button to recover it.
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
	upd, err := d.manage.UpdateWebhook(r.Context(), v.WorkspaceID, hook.ID, in)
	if err != nil {
		if form == nil {
			return err
		}
		if err := form.withErrors(err); err != nil {
			return err
		}
		return d.showWebhook(w, r, v, hook, detailExtras{status: http.StatusUnprocessableEntity, form: form,
			notice: "The settings were not saved: correct the fields marked below."})
	}
	if upd.Recovery != nil {
		return d.showWebhook(w, r, v, upd.Webhook, detailExtras{recovery: upd.Recovery, notice: notices["enabled"]})
	}
	code := "saved"
	if form == nil {
		code = "enabled"
	}
	http.Redirect(w, r, webhookPath(hook.ID)+"?notice="+code, http.StatusSeeOther)
	return nil
}
