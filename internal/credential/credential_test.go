package credential_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/trackelio/webhooks/internal/credential"
)

func TestNew(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		plain, digest := credential.New(credential.APIKeyPrefix)
		if !strings.HasPrefix(plain, "trk_") || len(plain) != len("trk_")+43 {
			t.Fatalf("New = %q, want trk_ and 43 base64url characters", plain)
		}
		if seen[plain] {
			t.Fatalf("New repeated %q", plain)
		}
		seen[plain] = true
		if !bytes.Equal(digest, credential.Digest(plain)) || len(digest) != 32 {
			t.Fatalf("digest of %q is not its SHA-256", plain)
		}
	}
}
