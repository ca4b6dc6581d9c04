package dashboard

import (
	"net/http"
)

// webhookDeleteForm asks to confirm a deletion, so deleting works without
// script and never happens by one stray click.
func (d *Dashboard) webhookDeleteForm(w http.ResponseWriter, r *http.Request, v *visit) error {
	hook, err := d.loadWebhook(r, v)
	if err != nil {
		return err
	}
	return d.confirm(w, r, v, confirmView{
		Heading: "Delete this webhook?",
		Paragraphs: []string{"Trackelio stops sending to " + hook.URL + " at once. Deliveries still waiting for an attempt end cancelled, " +
			"and the webhook and its delivery history leave the dashboard. This cannot be undone."},
		Action: webhookPath(hook.ID) + "/delete", Button: "Delete webhook", Danger: true, Cancel: webhookPath(hook.ID),
	}, webhooksCrumb, crumb{Label: hook.URL, Href: webhookPath(hook.ID)}, crumb{Label: "Delete"})
}

// webhookDelete deletes the webhook; its pending deliveries end cancelled.
func (d *Dashboard) webhookDelete(w http.ResponseWriter, r *http.Request, v *visit) error {
	hook, err := d.loadWebhook(r, v)
	if err != nil {
		return err
	}
	if err := d.manage.DeleteWebhook(r.Context(), v.WorkspaceID, hook.ID); err != nil {
		return err
	}
	d.log.InfoContext(r.Context(), "webhook deleted in the dashboard", "webhook_id", hook.ID, "workspace_id", v.WorkspaceID)
	http.Redirect(w, r, pathWebhooks+"?notice=deleted", http.StatusSeeOther)
	return nil
}
