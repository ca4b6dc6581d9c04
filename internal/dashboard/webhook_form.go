package dashboard

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/trackelio/webhooks/internal/catalog"
	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/repo"
)

// webhookForm is the settings form of Create Webhook and the detail page,
// as last submitted or as stored.
type webhookForm struct {
	Action, CSRF, Cancel string
	URL, Description     string
	Active, AllEvents    bool
	Events               []eventChoice
	Notify               notifyFields
	Errors               formErrors
}

// formErrors holds the message of each refused field.
type formErrors struct {
	URL, Events, Description, NotifyEmails, NotifyOn string
}

// Any reports whether a field was refused.
func (e formErrors) Any() bool { return e != formErrors{} }

// eventChoice is one checkbox of the Events field.
type eventChoice struct {
	eventInfo
	Checked bool
}

// eventInfo is a catalog type as the form shows it: its description and
// an example of its data, pretty-printed once when the dashboard starts.
type eventInfo struct {
	Type, Description, Example string
}

func newEventInfo(contracts []catalog.Contract) []eventInfo {
	var out []eventInfo
	for _, c := range contracts {
		if c.Operational { // the operator's notices: no customer subscribes to them
			continue
		}
		out = append(out, eventInfo{Type: c.Type, Description: c.Description, Example: newBodyView(c.Example).Pretty})
	}
	return out
}

func (d *Dashboard) newWebhookForm(action, csrf string, url string, events []string, active bool, description string) webhookForm {
	f := webhookForm{Action: action, CSRF: csrf, URL: url, Active: active, Description: description}
	f.AllEvents = len(d.events) > 0
	for _, e := range d.events {
		checked := slices.Contains(events, e.Type)
		f.AllEvents = f.AllEvents && checked
		f.Events = append(f.Events, eventChoice{eventInfo: e, Checked: checked})
	}
	return f
}

// storedWebhookForm is the form filled with a webhook as stored.
func (d *Dashboard) storedWebhookForm(h repo.Webhook, csrf string) webhookForm {
	f := d.newWebhookForm(webhookPath(h.ID), csrf, h.URL, h.Events, h.Active, h.Description)
	f.Notify = newNotifyFields(strings.Join(h.NotifyEmails, "\n"), h.NotifyOn)
	return f
}

// readWebhookForm reads a submitted settings form: the input for manage
// and the form to show again if it is refused. A form always sends every
// field, so an unticked box is false and no ticked event is an empty list.
// "Select all" stands for every event type, so it works without script.
func (d *Dashboard) readWebhookForm(r *http.Request, action, csrf string) (manage.WebhookInput, webhookForm) {
	url, description := r.PostForm.Get("url"), r.PostForm.Get("description")
	events := append([]string{}, r.PostForm["events"]...)
	if r.PostForm.Get("all_events") == "on" {
		events = events[:0]
		for _, e := range catalog.All() {
			events = append(events, e.Type)
		}
	}
	active := r.PostForm.Get("active") == "on"
	in := manage.WebhookInput{URL: &url, Events: events, Active: &active, Description: &description}
	form := d.newWebhookForm(action, csrf, url, events, active, description)
	in.NotifyEmails, in.NotifyOn, form.Notify = readNotifyFields(r.PostForm)
	return in, form
}

// withErrors puts each refused field's message on the form; an error that
// is not a validation error is returned as it is.
func (f *webhookForm) withErrors(err error) error {
	var fe manage.FieldErrors
	if !errors.As(err, &fe) {
		return err
	}
	f.Errors = formErrors{URL: fe.For("url"), Events: fe.For("events"), Description: fe.For("description"),
		NotifyEmails: fe.For("notify_emails"), NotifyOn: fe.For("notify_on")}
	if !f.Errors.Any() {
		// A refusal of no field of this form: show it with the first one.
		f.Errors.URL = fe.Error()
	}
	return nil
}
