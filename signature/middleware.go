package signature

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

const (
	defaultMaxBody   = 1 << 20
	defaultTolerance = 5 * time.Minute
)

// Middleware verifies webhook requests before the wrapped handler runs. It
// reads the body (at most MaxBody bytes; a longer one is answered 413),
// checks X-Trackelio-Signature against each of Secrets in constant time and,
// when RequireTimestamp is set, also requires a Standard Webhooks signature
// by one of Secrets whose timestamp is within Tolerance of now, which stops
// replays of captured requests. A failed check is answered 401 with a short
// plain-text reason and the wrapped handler is not called; on success it is
// called with the body restored, so it reads the same bytes.
//
// The zero value of each optional field selects its default.
type Middleware struct {
	// Secrets are the accepted webhook secrets: the current one first and,
	// during a rotation, the previous ones after it.
	Secrets []string
	// RequireTimestamp also demands valid webhook-id, webhook-timestamp and
	// webhook-signature headers; every secret must then be a "whsec_"
	// secret.
	RequireTimestamp bool
	// Tolerance is how far webhook-timestamp may be from now, either way;
	// 0 (or less) means 5 minutes.
	Tolerance time.Duration
	// MaxBody is the largest accepted body in bytes; 0 (or less) means 1 MiB.
	MaxBody int64
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Wrap returns a handler that runs next only for requests that pass the
// checks described on [Middleware]. It panics if Secrets is empty, or if
// RequireTimestamp is set and a secret is not a valid "whsec_" secret, since
// such a receiver could never accept a delivery.
func (m Middleware) Wrap(next http.Handler) http.Handler {
	secrets := slices.Clone(m.Secrets)
	if len(secrets) == 0 {
		panic("signature: Middleware needs at least one secret")
	}
	if m.RequireTimestamp {
		for i, s := range secrets {
			if _, err := standardKey(s); err != nil {
				panic(fmt.Sprintf("signature: Middleware secret %d: %v", i, err))
			}
		}
	}
	tolerance := m.Tolerance
	if tolerance <= 0 {
		tolerance = defaultTolerance
	}
	maxBody := m.MaxBody
	if maxBody <= 0 {
		maxBody = defaultMaxBody
	}
	now := m.Now
	if now == nil {
		now = time.Now
	}

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBody {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read request body", http.StatusBadRequest)
			return
		}

		sig := r.Header.Get(Header)
		if sig == "" {
			http.Error(w, "missing "+Header+" header", http.StatusUnauthorized)
			return
		}
		if !slices.ContainsFunc(secrets, func(s string) bool { return Verify(s, body, sig) }) {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		if m.RequireTimestamp {
			if err := verifyStandardAny(secrets, r.Header, body, now(), tolerance); err != nil {
				http.Error(w, rejection(err), http.StatusUnauthorized)
				return
			}
		}

		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// verifyStandardAny returns nil if the Standard Webhooks headers verify under
// any of secrets, else the last secret's error.
func verifyStandardAny(secrets []string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	var err error
	for _, s := range secrets {
		if err = VerifyStandard(s, h, body, now, tolerance); err == nil {
			return nil
		}
	}
	return err
}

// rejection is the response text for a failed Standard Webhooks check.
func rejection(err error) string {
	switch {
	case errors.Is(err, ErrMissingHeader):
		return "missing " + HeaderID + ", " + HeaderTimestamp + " or " + HeaderSignature + " header"
	case errors.Is(err, ErrTimestamp):
		return "invalid or expired " + HeaderTimestamp
	default:
		return "invalid " + HeaderSignature
	}
}
