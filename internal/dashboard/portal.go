package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/trackelio/webhooks/internal/credential"
	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/repo"
)

// errNoPublicURL refuses a portal link when PUBLIC_URL is unset and the
// request asking for it came to an address that is not loopback: the link
// would be built on a Host header the caller chose. The API answers it 409.
func errNoPublicURL(host string) error {
	return &manage.Refusal{Code: "public_url_not_set", Message: fmt.Sprintf(
		"PUBLIC_URL is not set, so portal links are built only for requests to a loopback address, not %q; "+
			"set PUBLIC_URL to the address browsers reach the api at", host)}
}

// NewLink issues a single-use portal link for the workspace, valid for the
// link TTL. Its URL is built on PublicURL; without it, on the address the
// request r was sent to if that is loopback (development), else it is
// refused.
func (d *Dashboard) NewLink(ctx context.Context, r *http.Request, workspaceID string) (string, time.Time, error) {
	base, err := d.baseURL(r)
	if err != nil {
		return "", time.Time{}, err
	}
	token, digest := credential.New(credential.PortalPrefix)
	expires := d.now().Add(d.linkTTL).UTC().Truncate(time.Microsecond)
	if err := d.store.CreatePortalLink(ctx, digest, workspaceID, expires); err != nil {
		return "", time.Time{}, err
	}
	return base + "/dashboard/session/" + token, expires, nil
}

func (d *Dashboard) baseURL(r *http.Request) (string, error) {
	if d.publicURL != "" {
		return strings.TrimSuffix(d.publicURL, "/"), nil
	}
	if !loopbackHost(r.Host) {
		return "", errNoPublicURL(r.Host)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host, nil
}

// loopbackHost says whether a Host header names this machine: localhost or
// a loopback address, with or without a port.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// errLinkInvalid answers a portal link that is unknown, used or expired.
var errLinkInvalid = &pageError{Status: http.StatusNotFound, Title: "Link expired",
	Message: "This sign-in link has expired or was already used. Open the webhooks page from the Trackelio app again, or sign in with a workspace API key."}

// openPortalLink consumes a portal link, starts a session and shows
// Workspaces > Webhooks. A HEAD, as link previewers send, answers without
// using the link up. A visitor signed in to another workspace is asked
// before the link switches it.
func (d *Dashboard) openPortalLink(w http.ResponseWriter, r *http.Request) error {
	link := r.PathValue("token")
	if !strings.HasPrefix(link, credential.PortalPrefix) {
		return errLinkInvalid
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		return nil
	}
	if v, err := d.visit(r); err == nil {
		l, err := d.store.PortalLinkAt(r.Context(), credential.Digest(link), d.now())
		if errors.Is(err, repo.ErrNotFound) {
			return errLinkInvalid
		}
		if err != nil {
			return fmt.Errorf("open portal link: %w", err)
		}
		if l.WorkspaceID != v.WorkspaceID {
			return d.confirm(w, r, v, confirmView{
				Heading: "Switch to " + l.WorkspaceName + "?",
				Paragraphs: []string{"You are signed in to " + v.WorkspaceName + ". This link opens the webhooks of " + l.WorkspaceName +
					" instead, and signs you out of " + v.WorkspaceName + " in this browser."},
				Action: r.URL.Path, Button: "Switch to " + l.WorkspaceName, Cancel: pathWebhooks,
			}, crumb{Label: "Switch workspace"})
		}
	} else if !errors.Is(err, repo.ErrNotFound) {
		return err
	}
	return d.startFromLink(w, r, link)
}

// switchWorkspace uses a portal link of another workspace once its
// visitor confirmed the switch.
func (d *Dashboard) switchWorkspace(w http.ResponseWriter, r *http.Request, _ *visit) error {
	link := r.PathValue("token")
	if !strings.HasPrefix(link, credential.PortalPrefix) {
		return errLinkInvalid
	}
	return d.startFromLink(w, r, link)
}

// startFromLink consumes a portal link and starts its session in place of
// the visitor's.
func (d *Dashboard) startFromLink(w http.ResponseWriter, r *http.Request, link string) error {
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
