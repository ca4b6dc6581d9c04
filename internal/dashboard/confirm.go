package dashboard

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
)

// confirmView asks before a change that cannot be taken back or that has
// effects a reader may not expect. It works without script: its form sends
// the same fields again with confirm=yes.
type confirmView struct {
	frame
	Heading    string
	Paragraphs []string
	Action     string // where the form posts
	Fields     []formField
	Button     string
	Danger     bool
	Cancel     string // where Cancel leads
}

// formField is a hidden field a confirmation sends again.
type formField struct{ Name, Value string }

// confirmed says whether a form was sent from its confirmation page.
func confirmed(r *http.Request) bool { return r.PostForm.Get("confirm") == "yes" }

// resend lists a submitted form's fields, but the CSRF token and the
// confirmation, in name order, for a confirmation page to send again.
func resend(form url.Values) []formField {
	var out []formField
	for _, name := range slices.Sorted(maps.Keys(form)) {
		if name == "csrf" || name == "confirm" {
			continue
		}
		for _, v := range form[name] {
			out = append(out, formField{Name: name, Value: v})
		}
	}
	return out
}

// confirm renders a confirmation page.
func (d *Dashboard) confirm(w http.ResponseWriter, r *http.Request, v *visit, view confirmView, crumbs ...crumb) error {
	view.frame = v.frame(view.Heading, crumbs...)
	return d.render(w, r, http.StatusOK, "confirm", view)
}
