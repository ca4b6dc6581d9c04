// Package credential makes the random bearer secrets the service hands out
// (workspace API keys, dashboard portal links, sessions and flashes) and the digests
// under which they are stored. A credential carries 256 bits of entropy, so
// a SHA-256 digest is as safe to store as a slow password hash and costs
// nothing per request; the plain value exists only in the caller's hands.
package credential

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// Prefixes name what a credential is, so secret scanners and people reading
// a log line can tell them apart.
const (
	APIKeyPrefix  = "trk_"
	PortalPrefix  = "trkpl_"
	SessionPrefix = "trkds_"
	// FlashPrefix names a dashboard flash: what one page shows once after
	// a change, such as a new secret.
	FlashPrefix = "trkfl_"
)

// New returns a random credential with the given prefix and its digest.
func New(prefix string) (string, []byte) {
	b := make([]byte, 32)
	rand.Read(b)
	plain := prefix + base64.RawURLEncoding.EncodeToString(b)
	return plain, Digest(plain)
}

// Digest is what is stored and looked up for a credential.
func Digest(plain string) []byte {
	h := sha256.Sum256([]byte(plain))
	return h[:]
}
