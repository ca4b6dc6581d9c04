package dashboard

import (
	"errors"
	"net/http"
	"time"

	"github.com/trackelio/webhooks/internal/credential"
	"github.com/trackelio/webhooks/repo"
)

// Every form that changes something answers with a redirect to a page the
// browser then gets (post/redirect/get), so reloading the page that follows
// never repeats the change. What that page must show once, such as a new
// secret, travels as a flash: a single-use token in the redirect's URL,
// stored for the session that made the change, that names what to show.
// Reloading finds it used and shows the page without it.

// flashTTL is how long a flash waits: the redirect is followed at once.
const flashTTL = 5 * time.Minute

// Kinds of flash: what the webhook's pages show once.
const (
	flashCreated  = "created"  // the new webhook's secret
	flashRevealed = "revealed" // the secret, asked for
	flashRotated  = "rotated"  // the new secret after a rotation
)

// flashParam is the query parameter that carries a flash's token.
const flashParam = "shown"

// redirectWithFlash stores a flash of kind about the webhook for the
// visitor's session and redirects to path, which shows it once.
func (d *Dashboard) redirectWithFlash(w http.ResponseWriter, r *http.Request, v *visit, kind, webhookID, path, fragment string) error {
	token, digest := credential.New(credential.FlashPrefix)
	now := d.now()
	f := repo.Flash{Kind: kind, WebhookID: webhookID}
	if err := d.store.CreateFlash(r.Context(), digest, credential.Digest(v.token), f, now, now.Add(flashTTL)); err != nil {
		return err
	}
	http.Redirect(w, r, path+"?"+flashParam+"="+token+fragment, http.StatusSeeOther)
	return nil
}

// takeFlash uses up the flash the request's URL carries and returns its
// kind when it belongs to this session and webhook; "" when there is none,
// or it was used, expired, or is another's.
func (d *Dashboard) takeFlash(r *http.Request, v *visit, webhookID string) (string, error) {
	token := r.URL.Query().Get(flashParam)
	if token == "" {
		return "", nil
	}
	f, err := d.store.TakeFlash(r.Context(), credential.Digest(token), credential.Digest(v.token), d.now())
	if errors.Is(err, repo.ErrNotFound) || err == nil && f.WebhookID != webhookID {
		return "", nil
	}
	return f.Kind, err
}
