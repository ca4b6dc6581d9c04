package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trackelio/webhooks/internal/credential"
	"github.com/trackelio/webhooks/repo"
)

func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

type workspaceKey struct{}

func workspaceID(ctx context.Context) string { return ctx.Value(workspaceKey{}).(string) }

// unauthorized answers a request without a valid API key, naming the
// scheme it needs as HTTP requires of a 401.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="Trackelio Webhooks"`)
	writeError(w, r, s.log, errUnauthorized)
}

// authed resolves the API key to its workspace; every handler behind it sees
// only that workspace's rows.
func (s *Server) authed(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := bearer(r)
		if !ok {
			s.unauthorized(w, r)
			return
		}
		digest := credential.Digest(key)
		ws, ok := s.keys.get(digest)
		if !ok {
			var err error
			ws, err = s.store.WorkspaceByKeyHash(r.Context(), digest)
			if errors.Is(err, repo.ErrNotFound) {
				s.unauthorized(w, r)
				return
			}
			if err != nil {
				writeError(w, r, s.log, err)
				return
			}
			s.keys.put(digest, ws)
		}
		if wait, ok := s.limiter.Allow(ws); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeError(w, r, s.log, &Error{Status: http.StatusTooManyRequests, Code: codeRateLimited, Message: "too many requests for this workspace; retry after the Retry-After delay"})
			return
		}
		ctx := context.WithValue(r.Context(), workspaceKey{}, ws)
		if err := h(w, r.WithContext(ctx)); err != nil {
			writeError(w, r, s.log, err)
		}
	})
}

// adminCredential returns the admin token offered as a bearer token or as a
// basic-auth password, which lets a browser open the monitoring UI.
func adminCredential(r *http.Request) (string, bool) {
	if token, ok := bearer(r); ok {
		return token, true
	}
	_, password, ok := r.BasicAuth()
	return password, ok
}

// admin guards operator routes with ADMIN_TOKEN, compared in constant time.
// Without a token configured the routes do not exist.
func (s *Server) admin(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(s.adminToken) == 0 {
			writeError(w, r, s.log, &Error{Status: http.StatusNotFound, Code: codeNotFound, Message: "admin routes are disabled: set ADMIN_TOKEN"})
			return
		}
		token, ok := adminCredential(r)
		if !ok || subtle.ConstantTimeCompare([]byte(token), s.adminToken) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="Trackelio Webhooks admin"`)
			writeError(w, r, s.log, &Error{Status: http.StatusUnauthorized, Code: codeUnauthorized, Message: "missing or invalid admin token"})
			return
		}
		if err := h(w, r); err != nil {
			writeError(w, r, s.log, err)
		}
	})
}

// keyCache remembers recent key digests briefly, so the producer's hot path
// does not query Postgres on every event.
type keyCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	entries map[[sha256.Size]byte]cachedKey
}

type cachedKey struct {
	workspaceID string
	expires     time.Time
}

func newKeyCache(ttl time.Duration, max int) *keyCache {
	return &keyCache{ttl: ttl, max: max, entries: make(map[[sha256.Size]byte]cachedKey)}
}

func (c *keyCache) get(digest []byte) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[[sha256.Size]byte(digest)]
	if !ok || time.Now().After(e.expires) {
		return "", false
	}
	return e.workspaceID, true
}

func (c *keyCache) put(digest []byte, ws string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		clear(c.entries) // crude but bounded; a refill costs one query per key
	}
	c.entries[[sha256.Size]byte(digest)] = cachedKey{workspaceID: ws, expires: time.Now().Add(c.ttl)}
}
