package dashboard

import (
	"cmp"
	"errors"
	"net/http"
	"strings"

	"github.com/trackelio/webhooks/credential"
	"github.com/trackelio/webhooks/repo"
)

// loginView is the sign-in page.
type loginView struct {
	frame
	Next  string
	Error string
}

// loginForm shows the stand-alone sign-in with a workspace API key. It
// sets the form's CSRF cookie (double submit: no session exists yet).
func (d *Dashboard) loginForm(w http.ResponseWriter, r *http.Request) error {
	return d.showLogin(w, r, http.StatusOK, "")
}

func (d *Dashboard) showLogin(w http.ResponseWriter, r *http.Request, status int, problem string) error {
	token := ""
	if c, err := r.Cookie(loginCookie); err == nil && strings.HasPrefix(c.Value, credential.SessionPrefix) {
		token = c.Value
	} else {
		token, _ = credential.New(credential.SessionPrefix)
		http.SetCookie(w, d.cookie(r, loginCookie, token, d.sessTTL))
	}
	f := frame{Title: "Sign in", CSRF: csrfToken(token)}
	if r.FormValue("signed_out") == "1" {
		f.Notice = "You are signed out."
	}
	return d.render(w, r, status, "login", loginView{
		frame: f,
		Next:  localNext(r.FormValue("next")),
		Error: problem,
	})
}

// login starts a session for the workspace whose API key was given.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || !sameToken(r.PostForm.Get("csrf"), csrfToken(c.Value)) {
		return errCSRF
	}
	key := strings.TrimSpace(r.PostForm.Get("api_key"))
	if key == "" {
		return d.showLogin(w, r, http.StatusUnprocessableEntity, "Enter your workspace API key.")
	}
	ws, err := d.store.WorkspaceByKeyHash(r.Context(), credential.Digest(key))
	if errors.Is(err, repo.ErrNotFound) {
		return d.showLogin(w, r, http.StatusUnauthorized, "That API key does not belong to any workspace. Check it and try again.")
	}
	if err != nil {
		return err
	}
	token, digest := credential.New(credential.SessionPrefix)
	now := d.now()
	if err := d.store.CreateSession(r.Context(), digest, ws, now, now.Add(d.sessTTL)); err != nil {
		return err
	}
	http.SetCookie(w, d.cookie(r, loginCookie, "", -1))
	d.startSession(w, r, token)
	http.Redirect(w, r, cmp.Or(localNext(r.PostForm.Get("next")), pathWebhooks), http.StatusSeeOther)
	return nil
}

// startSession hands the visitor its session cookie, ending the session
// the request came with, if any.
func (d *Dashboard) startSession(w http.ResponseWriter, r *http.Request, token string) {
	if old, err := r.Cookie(sessionCookie); err == nil && old.Value != token {
		if err := d.store.DeleteSession(r.Context(), credential.Digest(old.Value)); err != nil {
			d.log.WarnContext(r.Context(), "could not end the previous dashboard session", "error", err)
		}
	}
	http.SetCookie(w, d.cookie(r, sessionCookie, token, d.sessTTL))
}

// logout ends the session in PostgreSQL, so the cookie is dead on every
// replica, and clears it.
func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request, v *visit) error {
	if err := d.store.DeleteSession(r.Context(), credential.Digest(v.token)); err != nil {
		return err
	}
	http.SetCookie(w, d.cookie(r, sessionCookie, "", -1))
	http.Redirect(w, r, pathLogin+"?signed_out=1", http.StatusSeeOther)
	return nil
}

// localNext keeps a redirect target only when it is a dashboard page of
// this site, so the sign-in form cannot send anyone elsewhere.
func localNext(next string) string {
	if !strings.HasPrefix(next, "/dashboard/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") ||
		strings.HasPrefix(next, pathLogin) {
		return ""
	}
	return next
}
