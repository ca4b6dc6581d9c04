package signature_test

import (
	"fmt"
	"testing"

	"github.com/trackelio/webhooks/signature"
)

// The vector was computed independently with:
//
//	printf '%s' '{"id":"evt_1","type":"post.created"}' | openssl dgst -sha256 -hmac 'whsec_test' -hex
func TestSignKnownVector(t *testing.T) {
	got := signature.Sign("whsec_test", []byte(`{"id":"evt_1","type":"post.created"}`))
	const want = "73c575b6826d6beecbdf504196810c7ce1597aacd1fd353a9382c3b4973cb452"
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
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
		{"empty signature", "s3cret", body, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := signature.Verify(tt.secret, tt.body, tt.sig); got != tt.want {
				t.Errorf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}

func ExampleSign() {
	fmt.Println(signature.Sign("whsec_test", []byte(`{"id":"evt_1","type":"post.created"}`)))
	// Output: 73c575b6826d6beecbdf504196810c7ce1597aacd1fd353a9382c3b4973cb452
}
