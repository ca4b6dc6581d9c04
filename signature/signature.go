package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// Header is the request header that carries the signature.
const Header = "X-Trackelio-Signature"

// Sign returns the lowercase hex HMAC-SHA256 of body keyed by the secret
// string's UTF-8 bytes, exactly as the customer sees the secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is the signature of body under secret, comparing
// in constant time.
func Verify(secret string, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(sig))
}
