package dashboard

import (
	"errors"
	"net/http"

	"github.com/trackelio/webhooks/repo"
)

// webhookNewView is Create Webhook.
type webhookNewView struct {
	frame
	Form  webhookForm
	Error string // a refusal that belongs to no field, such as the limit
}

// webhookCreatedView shows a new webhook's secret, once: Secret is empty
// when the page is seen again.
type webhookCreatedView struct {
	frame
	ID, URL, Secret string
}

func (d *Dashboard) newView(v *visit, form webhookForm) webhookNewView {
	form.Cancel = pathWebhooks
	return webhookNewView{frame: v.frame("Create Webhook", webhooksCrumb, crumb{Label: "Create Webhook"}), Form: form}
}

// webhookNew shows an empty Create Webhook form: Active on, no events, no
// notification address, and the health notices ticked.
func (d *Dashboard) webhookNew(w http.ResponseWriter, r *http.Request, v *visit) error {
	form := d.newWebhookForm(pathWebhooks, v.CSRF, "", nil, true, "")
	form.Notify = newNotifyFields("", defaultNotifyOn)
	return d.render(w, r, http.StatusOK, "webhook_new", d.newView(v, form))
}

// webhookCreate saves a new webhook and redirects to the page that shows
// its generated secret once; a refused form comes back with what was typed
// and a message per field.
func (d *Dashboard) webhookCreate(w http.ResponseWriter, r *http.Request, v *visit) error {
	in, form := d.readWebhookForm(r, pathWebhooks, v.CSRF)
	hook, err := d.manage.CreateWebhook(r.Context(), v.WorkspaceID, in)
	if errors.Is(err, repo.ErrLimitReached) {
		view := d.newView(v, form)
		view.Error = "This workspace has as many webhooks as it may have. Delete one before creating another."
		return d.render(w, r, http.StatusUnprocessableEntity, "webhook_new", view)
	}
	if err != nil {
		if err := form.withErrors(err); err != nil {
			return err
		}
		return d.render(w, r, http.StatusUnprocessableEntity, "webhook_new", d.newView(v, form))
	}
	d.log.InfoContext(r.Context(), "webhook created in the dashboard", "webhook_id", hook.ID, "workspace_id", v.WorkspaceID)
	return d.redirectWithFlash(w, r, v, flashCreated, hook.ID, webhookPath(hook.ID)+"/created", "")
}

// webhookCreated shows a new webhook's secret, the once the creation's
// flash allows; seen again, it says where the secret can be revealed.
func (d *Dashboard) webhookCreated(w http.ResponseWriter, r *http.Request, v *visit) error {
	hook, err := d.loadWebhook(r, v)
	if err != nil {
		return err
	}
	kind, err := d.takeFlash(r, v, hook.ID)
	if err != nil {
		return err
	}
	view := webhookCreatedView{
		frame: v.frame("Webhook created", webhooksCrumb, crumb{Label: "Webhook created"}),
		ID:    hook.ID, URL: hook.URL,
	}
	if kind == flashCreated {
		view.Secret = hook.Secret
	}
	return d.render(w, r, http.StatusOK, "webhook_created", view)
}
