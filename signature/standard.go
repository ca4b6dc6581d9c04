package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks (https://www.standardwebhooks.com) headers.
const (
	// HeaderID carries the message id, unique per event and the same on
	// every retry of it, so receivers can drop duplicates.
	HeaderID = "webhook-id"
	// HeaderTimestamp carries the time of the attempt in Unix seconds.
	HeaderTimestamp = "webhook-timestamp"
	// HeaderSignature carries the space-separated "v1,<base64>" signatures.
	HeaderSignature = "webhook-signature"
)

// secretPrefix starts every Standard Webhooks secret; the rest is standard
// base64 of the key.
const secretPrefix = "whsec_"

// Errors returned (wrapped) by [SignStandard], [StandardSignatures] and
// [VerifyStandard]; test for them with [errors.Is].
var (
	// ErrInvalidSecret means the secret is not "whsec_" followed by a
	// non-empty standard base64 key.
	ErrInvalidSecret = errors.New("invalid webhook secret")
	// ErrMissingHeader means webhook-id, webhook-timestamp or
	// webhook-signature is absent or empty.
	ErrMissingHeader = errors.New("missing signature header")
	// ErrTimestamp means webhook-timestamp is not a Unix time in seconds or
	// is further from now than the tolerance, in either direction.
	ErrTimestamp = errors.New("timestamp outside tolerance")
	// ErrInvalidSignature means no v1 signature in webhook-signature matches.
	ErrInvalidSignature = errors.New("invalid signature")
)

// SignStandard returns "v1,<base64 std of HMAC-SHA256(key, id + "." +
// unixSeconds + "." + body)>", where key is the base64-decoded part of a
// "whsec_..." secret (per the Standard Webhooks spec) and unixSeconds is
// ts.Unix() in decimal. The error wraps [ErrInvalidSecret] if the secret is
// not "whsec_" followed by non-empty valid standard base64.
func SignStandard(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := standardKey(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(standardMAC(key, id, ts.Unix(), body)), nil
}

// StandardSignatures returns the webhook-signature header value for several
// secrets (current first, then previous ones during a rotation grace
// period): their v1 signatures separated by a single space. It fails if
// secrets is empty or any of them is invalid.
func StandardSignatures(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", fmt.Errorf("sign: no secrets: %w", ErrInvalidSecret)
	}
	sigs := make([]string, len(secrets))
	for i, s := range secrets {
		sig, err := SignStandard(s, id, ts, body)
		if err != nil {
			return "", fmt.Errorf("secret %d: %w", i, err)
		}
		sigs[i] = sig
	}
	return strings.Join(sigs, " "), nil
}

// VerifyStandard checks the Standard Webhooks headers of a request whose raw
// body is body: the headers must all be present, webhook-timestamp must be
// within tolerance of now (in both directions, so future-dated messages are
// refused too), and at least one "v1," entry of the space-separated
// webhook-signature list must match, compared in constant time. Entries of
// other versions are ignored. It returns nil or an error wrapping
// [ErrMissingHeader], [ErrTimestamp], [ErrInvalidSignature] or, for a
// malformed secret, [ErrInvalidSecret].
func VerifyStandard(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := standardKey(secret)
	if err != nil {
		return err
	}
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	for _, hv := range [...]struct{ name, value string }{{HeaderID, id}, {HeaderTimestamp, tsText}, {HeaderSignature, sigs}} {
		if hv.value == "" {
			return fmt.Errorf("%s: %w", hv.name, ErrMissingHeader)
		}
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	// Only the canonical form is accepted: the signed content is the
	// decimal number, so "+17…" or "017…" would not match what was signed.
	if err != nil || strconv.FormatInt(ts, 10) != tsText {
		return fmt.Errorf("%s %q is not Unix seconds: %w", HeaderTimestamp, tsText, ErrTimestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%s %d is %v from now: %w", HeaderTimestamp, ts, d.Round(time.Second), ErrTimestamp)
	}
	want := []byte(base64.StdEncoding.EncodeToString(standardMAC(key, id, ts, body)))
	for _, entry := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(entry, ",")
		if ok && version == "v1" && hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	return fmt.Errorf("%s: %w", HeaderSignature, ErrInvalidSignature)
}

// standardKey returns the HMAC key of a "whsec_<base64>" secret.
func standardKey(secret string) ([]byte, error) {
	encoded, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return nil, fmt.Errorf("secret lacks the %q prefix: %w", secretPrefix, ErrInvalidSecret)
	}
	key, err := base64.StdEncoding.DecodeString(encoded)
	// The decoder skips CR and LF; a secret holding them was mangled.
	if err == nil && strings.ContainsAny(encoded, "\r\n") {
		err = errors.New("line break in secret")
	}
	if err != nil {
		return nil, fmt.Errorf("secret is not standard base64 after %q: %w", secretPrefix, errors.Join(ErrInvalidSecret, err))
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("secret has an empty key: %w", ErrInvalidSecret)
	}
	return key, nil
}

// standardMAC returns HMAC-SHA256(key, id + "." + unixSeconds + "." + body).
func standardMAC(key []byte, id string, unixSeconds int64, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, unixSeconds, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}
