package signature_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/signature"
)

// vector is one case of testdata/vectors.json, whose expected signatures were
// computed with Python's hmac module by testdata/gen_vectors.py (and spot
// checked with openssl), independently of this package.
type vector struct {
	Name       string `json:"name"`
	Secret     string `json:"secret"`
	Body       string `json:"body"`
	BodyRepeat *struct {
		Chunk string `json:"chunk"`
		Count int    `json:"count"`
	} `json:"body_repeat"`
	ID                 string `json:"id"`
	Timestamp          int64  `json:"timestamp"`
	TrackelioSignature string `json:"trackelio_signature"`
	// WebhookSignature is nil when the secret is not a "whsec_" secret, so
	// SignStandard must fail.
	WebhookSignature *string `json:"webhook_signature"`
}

// body returns the raw body bytes of v.
func (v vector) body() []byte {
	if v.BodyRepeat != nil {
		return []byte(strings.Repeat(v.BodyRepeat.Chunk, v.BodyRepeat.Count))
	}
	return []byte(v.Body)
}

// mustLoadVectors reads testdata/vectors.json.
func mustLoadVectors(tb testing.TB) []vector {
	tb.Helper()
	f, err := os.Open("testdata/vectors.json")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	var vs []vector
	if err := dec.Decode(&vs); err != nil {
		tb.Fatalf("decode vectors: %v", err)
	}
	if len(vs) < 6 {
		tb.Fatalf("only %d vectors", len(vs))
	}
	return vs
}

func TestSignVectors(t *testing.T) {
	t.Parallel()
	for _, v := range mustLoadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			got := signature.Sign(v.Secret, v.body())
			if diff := cmp.Diff(v.TrackelioSignature, got); diff != "" {
				t.Errorf("Sign mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	body := []byte(`{"a":1}`)
	sig := signature.Sign("s3cret", body)
	tests := []struct {
		name   string
		secret string
		body   []byte
		sig    string
		want   bool
	}{
		{"valid", "s3cret", body, sig, true},
		{"wrong secret", "other", body, sig, false},
		{"tampered body", "s3cret", []byte(`{"a":2}`), sig, false},
		{"uppercase hex", "s3cret", body, fmt.Sprintf("%X", sig), false},
		{"sha256= prefix", "s3cret", body, "sha256=" + sig, false},
		{"empty signature", "s3cret", body, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := signature.Verify(tt.secret, tt.body, tt.sig)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Verify mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
