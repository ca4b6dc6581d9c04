package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/trackelio/webhooks/internal/credential"
	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/repo"
)

// visit is a signed-in request: whose workspace, and the CSRF token its
// forms carry.
type visit struct {
	WorkspaceID   string
	WorkspaceName string
	CSRF          string
	token         string // the session token from the cookie
}

// frame is what the layout shows on every page.
type frame struct {
	Title     string
	Workspace string // empty when signed out
	CSRF      string
	Section   string // the navigation entry to mark current
	Crumbs    []crumb
	Notice    string
}

// crumb is a breadcrumb after "Workspaces > <workspace>"; the last has no
// link.
type crumb struct {
	Label, Href string
}

// frame starts the layout data of a signed-in page.
func (v *visit) frame(title string, crumbs ...crumb) frame {
	f := frame{Title: title, Section: "webhooks", Crumbs: crumbs}
	if v != nil {
		f.Workspace, f.CSRF = v.WorkspaceName, v.CSRF
	}
	return f
}

// webhooksCrumb leads back to Workspaces > Webhooks.
var webhooksCrumb = crumb{Label: "Webhooks", Href: pathWebhooks}

type (
	publicPage func(w http.ResponseWriter, r *http.Request) error
	signedPage func(w http.ResponseWriter, r *http.Request, v *visit) error
)

// public serves a page that needs no session.
func (d *Dashboard) public(h publicPage) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = withStart(r)
		d.secureHeaders(w)
		if err := h(w, r); err != nil {
			d.fail(w, r, nil, err)
		}
	})
}

// signedIn serves a page that needs a session: without one it redirects to
// the sign-in page, and a POST must carry the session's CSRF token.
func (d *Dashboard) signedIn(h signedPage) http.Handler {
	return d.public(func(w http.ResponseWriter, r *http.Request) error {
		v, err := d.visit(r)
		if errors.Is(err, repo.ErrNotFound) {
			next := ""
			if r.Method == http.MethodGet {
				next = "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			http.Redirect(w, r, pathLogin+next, http.StatusSeeOther)
			return nil
		}
		if err != nil {
			return err
		}
		if err := checkForm(w, r, v.CSRF); err != nil {
			d.fail(w, r, v, err)
			return nil
		}
		if err := h(w, r, v); err != nil {
			d.fail(w, r, v, err)
		}
		return nil
	})
}

// visit resolves the session cookie; no cookie, or an unknown or expired
// session, is repo.ErrNotFound.
func (d *Dashboard) visit(r *http.Request) (*visit, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || !strings.HasPrefix(c.Value, credential.SessionPrefix) {
		return nil, repo.ErrNotFound
	}
	s, err := d.store.SessionAt(r.Context(), credential.Digest(c.Value), d.now())
	if err != nil {
		return nil, err
	}
	return &visit{WorkspaceID: s.WorkspaceID, WorkspaceName: s.WorkspaceName, CSRF: csrfToken(c.Value), token: c.Value}, nil
}

// checkForm reads a POST's form and refuses it without the right CSRF token.
func checkForm(w http.ResponseWriter, r *http.Request, csrf string) error {
	if r.Method != http.MethodPost {
		return nil
	}
	if err := parseForm(w, r); err != nil {
		return err
	}
	if !sameToken(r.PostForm.Get("csrf"), csrf) {
		return errCSRF
	}
	return nil
}

// maxForm bounds a form body; the largest form is a webhook's settings.
const maxForm = 64 << 10

func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &pageError{Status: http.StatusRequestEntityTooLarge, Title: "Form too large",
				Message: fmt.Sprintf("The form sent more than %d KiB.", maxForm>>10)}
		}
		return &pageError{Status: http.StatusBadRequest, Title: "Bad form", Message: "The form could not be read: " + err.Error()}
	}
	return nil
}

// pageError is a page that says what went wrong, with its status.
type pageError struct {
	Status  int
	Title   string
	Message string
}

func (e *pageError) Error() string { return e.Title + ": " + e.Message }

var (
	errPageNotFound = &pageError{Status: http.StatusNotFound, Title: "Not found",
		Message: "There is no such page, or the webhook or delivery you asked for does not belong to this workspace."}
	errCSRF = &pageError{Status: http.StatusForbidden, Title: "Form expired",
		Message: "This form was not sent from a page of your current session. Go back, reload the page and try again."}
)

// errorView is the error page.
type errorView struct {
	frame
	Message string
}

// fail renders an error as a page: unknown and other workspaces' ids are a
// 404, a refusal of the current state a 409, an unreachable database a 503
// with Retry-After, the rest a logged 500.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	var (
		pe      *pageError
		refusal *manage.Refusal
	)
	switch {
	case errors.As(err, &pe):
	case errors.Is(err, repo.ErrNotFound):
		pe = errPageNotFound
	case errors.As(err, &refusal):
		pe = &pageError{Status: http.StatusConflict, Title: "Not possible now", Message: sentence(refusal.Message)}
	case repo.Unavailable(err):
		d.log.WarnContext(r.Context(), "database unavailable", "method", r.Method, "path", loggedPath(r), "error", err)
		w.Header().Set("Retry-After", "2")
		pe = &pageError{Status: http.StatusServiceUnavailable, Title: "Temporarily unavailable",
			Message: "The dashboard cannot reach its data right now. Nothing was changed; try again in a few seconds."}
	default:
		d.log.ErrorContext(r.Context(), "dashboard request failed", "method", r.Method, "path", loggedPath(r), "error", err)
		pe = &pageError{Status: http.StatusInternalServerError, Title: "Something went wrong",
			Message: "The page could not be shown. The error has been logged; try again in a moment."}
	}
	f := v.frame(pe.Title, crumb{Label: pe.Title})
	if v == nil {
		f.Section = ""
	}
	if rerr := d.render(w, r, pe.Status, "error", errorView{frame: f, Message: pe.Message}); rerr != nil {
		d.log.ErrorContext(r.Context(), "render error page", "error", rerr)
		http.Error(w, pe.Message, pe.Status)
	}
}

// loggedPath is the request's path for the log, without the token of a
// portal or unsubscribe link: a token in the log would open the door it
// is the key to.
func loggedPath(r *http.Request) string {
	if token := r.PathValue("token"); token != "" {
		return strings.Replace(r.URL.Path, token, "…", 1)
	}
	return r.URL.Path
}

// sentence capitalises a message and ends it with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
