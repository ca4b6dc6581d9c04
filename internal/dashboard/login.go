package dashboard

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/trackelio/webhooks/internal/credential"
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
	client := clientAddr(r, d.proxies)
	if wait := d.signIns.Wait(client); wait > 0 {
		d.log.WarnContext(r.Context(), "dashboard sign-in refused: too many failures", "client", client)
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		minutes := "a minute"
		if n := int((wait + time.Minute - 1) / time.Minute); n > 1 {
			minutes = fmt.Sprintf("%d minutes", n)
		}
		return d.showLogin(w, r, http.StatusTooManyRequests, "Too many sign-ins failed from your address. Try again in "+minutes+".")
	}
	ws, err := d.store.WorkspaceByKeyHash(r.Context(), credential.Digest(key))
	if errors.Is(err, repo.ErrNotFound) {
		d.signIns.Allow(client)
		// Never the key: a mistyped key is one character from the real one.
		d.log.WarnContext(r.Context(), "dashboard sign-in failed: unknown API key", "client", client, "user_agent", r.UserAgent())
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

// Failed sign-ins a client may make at once, and how fast it earns more:
// a person who mistypes is not held up, a key-guessing script is.
const (
	failedSignInsBurst     = 10
	failedSignInsPerSecond = 1.0 / 60
)

// clientAddr is the address a request came from: the connection's peer,
// or, when that is a trusted proxy, the last address in X-Forwarded-For
// that is not one (an earlier one is the client's to write).
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	isTrusted := func(s string) bool {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return false
		}
		for _, p := range trusted {
			if p.Contains(ip.Unmap()) {
				return true
			}
		}
		return false
	}
	addr := r.RemoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	if !isTrusted(addr) {
		return addr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		if hop := strings.TrimSpace(hops[i]); hop != "" && !isTrusted(hop) {
			return hop
		}
	}
	return addr
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
