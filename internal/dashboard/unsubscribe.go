package dashboard

import (
	"errors"
	"net/http"

	"github.com/trackelio/webhooks/repo"
)

// Every failure notice's mail links to its address's unsubscribe page and
// announces it in List-Unsubscribe, with List-Unsubscribe-Post for RFC
// 8058's one click: the mail client POSTs "List-Unsubscribe=One-Click" to
// the link itself, with no cookie and no CSRF token. The token in the path
// is the capability; GET only asks, so a link scanner that fetches it
// unsubscribes nobody. Neither the token nor the address is logged.

// unsubscribePath is the path of an address's unsubscribe link: the mails
// link to PUBLIC_URL + "/unsubscribe/" + repo.Mail.UnsubscribeToken.
func unsubscribePath(token string) string { return pathUnsubscribe + token }

// unsubscribeView asks to stop the notices to an address, or says they
// stopped (Done).
type unsubscribeView struct {
	frame
	Address, WorkspaceName string
	Action                 string
	Done                   bool
}

// maxUnsubscribeToken bounds a token read from the path; the ones issued
// are 26 characters.
const maxUnsubscribeToken = 64

var errUnsubscribeLink = &pageError{Status: http.StatusNotFound, Title: "Link already used or unknown",
	Message: "This unsubscribe link was already used, or it is unknown. An address that was unsubscribed gets no more failure notices; " +
		"the webhook's owners can add it again in the webhook's settings."}

// unsubscribeToken is the {token} of the path, if it looks like one: any
// other is the same 404 as a used one, without a query.
func unsubscribeToken(r *http.Request) (string, bool) {
	t := r.PathValue("token")
	if t == "" || len(t) > maxUnsubscribeToken {
		return "", false
	}
	for _, c := range t {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return "", false
		}
	}
	return t, true
}

// unsubscribeForm asks whether to stop the failure notices to the link's
// address.
func (d *Dashboard) unsubscribeForm(w http.ResponseWriter, r *http.Request) error {
	token, ok := unsubscribeToken(r)
	if !ok {
		return errUnsubscribeLink
	}
	sub, err := d.store.SubscriptionByToken(r.Context(), token)
	if errors.Is(err, repo.ErrNotFound) {
		return errUnsubscribeLink
	}
	if err != nil {
		return err
	}
	return d.render(w, r, http.StatusOK, "unsubscribe", unsubscribeView{
		frame:   frame{Title: "Stop failure notices"},
		Address: sub.Address, WorkspaceName: sub.WorkspaceName, Action: unsubscribePath(token),
	})
}

// unsubscribe takes the link's address off every webhook of its workspace,
// once, and says so with 200, as RFC 8058 asks; the link then is used up.
func (d *Dashboard) unsubscribe(w http.ResponseWriter, r *http.Request) error {
	token, ok := unsubscribeToken(r)
	if !ok {
		return errUnsubscribeLink
	}
	sub, err := d.store.Unsubscribe(r.Context(), token)
	if errors.Is(err, repo.ErrNotFound) {
		return errUnsubscribeLink
	}
	if err != nil {
		return err
	}
	d.log.InfoContext(r.Context(), "notification address unsubscribed", "workspace_id", sub.WorkspaceID)
	return d.render(w, r, http.StatusOK, "unsubscribe", unsubscribeView{
		frame:   frame{Title: "Failure notices stopped"},
		Address: sub.Address, WorkspaceName: sub.WorkspaceName, Done: true,
	})
}
