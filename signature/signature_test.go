package signature_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/trackelio/webhooks/signature"
)

// Valid "whsec_" secrets for the tests, unrelated to each other: one being
// rotated out, the one replacing it, and one a receiver does not hold.
const (
	oldSecret   = "whsec_//79/Pv6+fj39vX08/Lx8O/u7ezr6uno5+bl5OPi4eA="
	newSecret   = "whsec_q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA="
	otherSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

// wantEqual fails tb with a diff when got differs from want; what names
// what was compared.
func wantEqual(tb testing.TB, what string, want, got any, opts ...cmp.Option) {
	tb.Helper()
	if diff := cmp.Diff(want, got, opts...); diff != "" {
		tb.Errorf("%s mismatch (-want +got):\n%s", what, diff)
	}
}

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

// TestSignVectors checks both signatures of every vector, the trackelio one
// and the Standard Webhooks one, against the values computed independently.
func TestSignVectors(t *testing.T) {
	t.Parallel()
	for _, v := range mustLoadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			wantEqual(t, "Sign", v.TrackelioSignature, signature.Sign(v.Secret, v.body()))
			want := signResult{Err: signature.ErrInvalidSecret}
			if v.WebhookSignature != nil {
				want = signResult{Sig: *v.WebhookSignature}
			}
			sig, err := signature.SignStandard(v.Secret, v.ID, time.Unix(v.Timestamp, 0), v.body())
			wantEqual(t, "SignStandard", want, signResult{sig, err}, cmpopts.EquateErrors())
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
			wantEqual(t, "Verify", tt.want, signature.Verify(tt.secret, tt.body, tt.sig))
		})
	}
}
