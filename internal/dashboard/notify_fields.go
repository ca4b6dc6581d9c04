package dashboard

import (
	"net/url"
	"slices"
	"strings"

	"github.com/trackelio/webhooks/internal/manage"
)

// notifyFields are the Failure notices fieldset of the settings form:
// where notices are mailed and which of them.
type notifyFields struct {
	// Emails is the addresses' text, one per line, as typed or as stored.
	Emails string
	Kinds  []noticeChoice
	Max    int
}

// noticeChoice is one checkbox of the notices to mail.
type noticeChoice struct {
	noticeKind
	Checked bool
}

// notifyMarker is a hidden field the fieldset always sends. Unticked boxes
// and an empty text area send nothing a server can tell from a form
// without them, so it says that what is missing means none: no address,
// no notice mailed.
const notifyMarker = "notify_form"

func newNotifyFields(emails string, notifyOn []string) notifyFields {
	f := notifyFields{Emails: emails, Max: manage.MaxNotifyEmails}
	for _, k := range noticeKinds {
		f.Kinds = append(f.Kinds, noticeChoice{noticeKind: k, Checked: slices.Contains(notifyOn, string(k.Type))})
	}
	return f
}

// readNotifyFields reads the fieldset from a submitted form: the addresses,
// one a line with blank lines left out, and the ticked notices, both
// non-nil so that none replaces what is stored. A form without the marker
// (one rendered before the fieldset existed) leaves both as stored: nil.
func readNotifyFields(form url.Values) (emails, notifyOn []string, f notifyFields) {
	typed := form.Get("notify_emails")
	notifyOn = form["notify_on"]
	f = newNotifyFields(typed, notifyOn)
	if !form.Has(notifyMarker) {
		return nil, nil, f
	}
	emails = []string{}
	// Browsers send a text area's line breaks as CRLF; a CR anywhere else
	// stays, for manage to refuse as a control character.
	for line := range strings.SplitSeq(typed, "\n") {
		if line = strings.TrimSuffix(line, "\r"); strings.TrimSpace(line) != "" {
			emails = append(emails, line)
		}
	}
	return emails, append([]string{}, notifyOn...), f
}
