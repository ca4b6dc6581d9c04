package dashboard

import (
	"net/http"
)

// webhookDeleteView asks to confirm a deletion, so deleting works without
// script and never happens by one stray click.
type webhookDeleteView struct {
	frame
	ID, URL string
}

func (d *Dashboard) webhookDeleteForm(w http.ResponseWriter, r *http.Request, v *visit) error {
	hook, err := d.loadWebhook(r, v)
	if err != nil {
		return err
	}
	return d.render(w, r, http.StatusOK, "webhook_delete", webhookDeleteView{
		frame: v.frame("Delete webhook", webhooksCrumb, crumb{Label: hook.URL, Href: webhookPath(hook.ID)}, crumb{Label: "Delete"}),
		ID:    hook.ID, URL: hook.URL,
	})
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
