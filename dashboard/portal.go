package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/trackelio/webhooks/credential"
	"github.com/trackelio/webhooks/repo"
)

// NewLink issues a single-use portal link for the workspace, valid for the
// link TTL. Its URL is built on PublicURL, or else on the address the
// request r was sent to.
func (d *Dashboard) NewLink(ctx context.Context, r *http.Request, workspaceID string) (string, time.Time, error) {
	token, digest := credential.New(credential.PortalPrefix)
	expires := d.now().Add(d.linkTTL).UTC().Truncate(time.Microsecond)
	if err := d.store.CreatePortalLink(ctx, digest, workspaceID, expires); err != nil {
		return "", time.Time{}, err
	}
	return d.baseURL(r) + "/dashboard/session/" + token, expires, nil
}

func (d *Dashboard) baseURL(r *http.Request) string {
	if d.publicURL != "" {
		return strings.TrimSuffix(d.publicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// errLinkInvalid answers a portal link that is unknown, used or expired.
var errLinkInvalid = &pageError{Status: http.StatusNotFound, Title: "Link expired",
	Message: "This sign-in link has expired or was already used. Open the webhooks page from the Trackelio app again, or sign in with a workspace API key."}

// openPortalLink consumes a portal link, starts a session and shows
// Workspaces > Webhooks.
func (d *Dashboard) openPortalLink(w http.ResponseWriter, r *http.Request) error {
	link := r.PathValue("token")
	if !strings.HasPrefix(link, credential.PortalPrefix) {
		return errLinkInvalid
	}
	token, digest := credential.New(credential.SessionPrefix)
	now := d.now()
	_, err := d.store.StartSessionFromLink(r.Context(), credential.Digest(link), digest, now, now.Add(d.sessTTL))
	if errors.Is(err, repo.ErrNotFound) {
		return errLinkInvalid
	}
	if err != nil {
		return fmt.Errorf("open portal link: %w", err)
	}
	d.startSession(w, r, token)
	http.Redirect(w, r, pathWebhooks, http.StatusSeeOther)
	return nil
}
