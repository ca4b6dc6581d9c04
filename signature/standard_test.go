package signature_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/trackelio/webhooks/signature"
)

// signResult is what a signing call returned.
type signResult struct {
	Sig string
	Err error
}

func TestSignStandardInvalidSecret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret string
	}{
		{"no prefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		{"other prefix", "whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		{"empty key", "whsec_"},
		{"url-safe alphabet", "whsec_-_-_AAAA"},
		{"missing padding", "whsec_3q2+7w"},
		{"line break", "whsec_MfKQ9r8GKYqr\nTwjUPD8ILPZIo2LaLaSw"},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sig, err := signature.SignStandard(tt.secret, "msg_1", time.Unix(1700000000, 0), []byte("{}"))
			wantEqual(t, "SignStandard", signResult{Err: signature.ErrInvalidSecret}, signResult{sig, err}, cmpopts.EquateErrors())
		})
	}
}

func TestStandardSignatures(t *testing.T) {
	t.Parallel()
	const id = "msg_rotation"
	ts := time.Unix(1700000000, 0)
	body := []byte(`{"type":"post.created"}`)
	tests := []struct {
		name    string
		secrets []string
		want    signResult
	}{
		{"one secret", []string{newSecret}, signResult{Sig: mustSignStandard(t, newSecret, id, ts, body)}},
		{"rotation", []string{newSecret, oldSecret}, signResult{
			Sig: mustSignStandard(t, newSecret, id, ts, body) + " " + mustSignStandard(t, oldSecret, id, ts, body),
		}},
		{"no secrets", nil, signResult{Err: signature.ErrInvalidSecret}},
		{"one invalid", []string{newSecret, "hunter2"}, signResult{Err: signature.ErrInvalidSecret}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sig, err := signature.StandardSignatures(tt.secrets, id, ts, body)
			wantEqual(t, "StandardSignatures", tt.want, signResult{sig, err}, cmpopts.EquateErrors())
		})
	}
}

// TestStandardLibraryVerifies checks this package's output with the
// published Standard Webhooks Go library, as a customer's receiver would.
func TestStandardLibraryVerifies(t *testing.T) {
	t.Parallel()
	type check struct {
		name     string
		verifier string // the only secret the library instance holds
		body     []byte
		header   http.Header
		wantErr  error
	}
	var tests []check
	now := time.Now()
	for _, v := range mustLoadVectors(t) {
		if v.WebhookSignature == nil {
			continue
		}
		sig, err := signature.SignStandard(v.Secret, v.ID, now, v.body())
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		tests = append(tests, check{"vector " + v.Name, v.Secret, v.body(), standardHeader(v.ID, now, sig), nil})
	}
	body := []byte(`{"type":"post.assigned","data":{"assignee":"Zoë"}}`)
	rotated, err := signature.StandardSignatures([]string{newSecret, oldSecret}, "msg_rot", now, body)
	if err != nil {
		t.Fatal(err)
	}
	h := standardHeader("msg_rot", now, rotated)
	tests = append(tests,
		check{"rotation, receiver holds only the new secret", newSecret, body, h, nil},
		check{"rotation, receiver holds only the old secret", oldSecret, body, h, nil},
		check{"rotation, receiver holds neither", otherSecret, body, h, standardwebhooks.ErrNoMatchingSignature},
		check{"rotation, tampered body", oldSecret, []byte(`{}`), h, standardwebhooks.ErrNoMatchingSignature},
	)

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wh, err := standardwebhooks.NewWebhook(tt.verifier)
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, "library Verify", tt.wantErr, wh.Verify(tt.body, tt.header), cmpopts.EquateErrors())
		})
	}
}

func TestVerifyStandard(t *testing.T) {
	t.Parallel()
	const (
		id       = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		tolerant = 5 * time.Minute
	)
	now := time.Unix(1700000000, 0)
	body := []byte(`{"type":"csat.submitted","data":{"score":5}}`)
	sig := mustSignStandard(t, newSecret, id, now, body)
	v1 := strings.TrimPrefix(sig, "v1,")

	// with returns the valid headers for now, changed by edit.
	with := func(edit func(h http.Header)) http.Header {
		h := standardHeader(id, now, sig)
		edit(h)
		return h
	}
	signedAt := func(ts time.Time) http.Header {
		return standardHeader(id, ts, mustSignStandard(t, newSecret, id, ts, body))
	}
	unchanged := func(http.Header) {}

	tests := []struct {
		name    string
		secret  string
		header  http.Header
		body    []byte
		wantErr error
	}{
		{"valid", newSecret, with(unchanged), body, nil},
		{"wrong secret", otherSecret, with(unchanged), body, signature.ErrInvalidSignature},
		{"invalid secret", "hunter2", with(unchanged), body, signature.ErrInvalidSecret},
		{"tampered body", newSecret, with(unchanged), []byte(`{"type":"csat.submitted","data":{"score":1}}`), signature.ErrInvalidSignature},
		{"tampered id", newSecret, with(func(h http.Header) { h.Set(signature.HeaderID, "msg_other") }), body, signature.ErrInvalidSignature},
		{"timestamp moved within tolerance", newSecret, with(func(h http.Header) { h.Set(signature.HeaderTimestamp, "1700000001") }), body, signature.ErrInvalidSignature},
		{"oldest accepted", newSecret, signedAt(now.Add(-tolerant)), body, nil},
		{"newest accepted", newSecret, signedAt(now.Add(tolerant)), body, nil},
		{"stale timestamp", newSecret, signedAt(now.Add(-tolerant - time.Second)), body, signature.ErrTimestamp},
		{"future timestamp", newSecret, signedAt(now.Add(tolerant + time.Second)), body, signature.ErrTimestamp},
		{"timestamp in milliseconds", newSecret, with(func(h http.Header) { h.Set(signature.HeaderTimestamp, "1700000000000") }), body, signature.ErrTimestamp},
		{"timestamp not a number", newSecret, with(func(h http.Header) { h.Set(signature.HeaderTimestamp, "2023-11-14T22:13:20Z") }), body, signature.ErrTimestamp},
		{"timestamp with plus sign", newSecret, with(func(h http.Header) { h.Set(signature.HeaderTimestamp, "+1700000000") }), body, signature.ErrTimestamp},
		{"missing id", newSecret, with(func(h http.Header) { h.Del(signature.HeaderID) }), body, signature.ErrMissingHeader},
		{"missing timestamp", newSecret, with(func(h http.Header) { h.Del(signature.HeaderTimestamp) }), body, signature.ErrMissingHeader},
		{"missing signature", newSecret, with(func(h http.Header) { h.Del(signature.HeaderSignature) }), body, signature.ErrMissingHeader},
		{"no headers", newSecret, http.Header{}, body, signature.ErrMissingHeader},
		{"several signatures, last valid", newSecret, with(func(h http.Header) {
			h.Set(signature.HeaderSignature, "v1,"+strings.Repeat("A", 43)+"= "+sig)
		}), body, nil},
		{"several signatures, first valid", newSecret, with(func(h http.Header) {
			h.Set(signature.HeaderSignature, sig+" v1,"+strings.Repeat("A", 43)+"=")
		}), body, nil},
		{"several signatures, none valid", newSecret, with(func(h http.Header) {
			h.Set(signature.HeaderSignature, "v1,"+strings.Repeat("A", 43)+"= v1,"+strings.Repeat("B", 43)+"=")
		}), body, signature.ErrInvalidSignature},
		{"v2 entry ignored", newSecret, with(func(h http.Header) { h.Set(signature.HeaderSignature, "v2,"+v1) }), body, signature.ErrInvalidSignature},
		{"v2 entry beside valid v1", newSecret, with(func(h http.Header) { h.Set(signature.HeaderSignature, "v2,xyz "+sig) }), body, nil},
		{"v1a entry ignored", newSecret, with(func(h http.Header) { h.Set(signature.HeaderSignature, "v1a,"+v1) }), body, signature.ErrInvalidSignature},
		{"unversioned entry ignored", newSecret, with(func(h http.Header) { h.Set(signature.HeaderSignature, v1) }), body, signature.ErrInvalidSignature},
		{"trackelio hex signature ignored", newSecret, with(func(h http.Header) {
			h.Set(signature.HeaderSignature, "v1,"+signature.Sign(newSecret, body))
		}), body, signature.ErrInvalidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantEqual(t, "VerifyStandard", tt.wantErr, signature.VerifyStandard(tt.secret, tt.header, tt.body, now, tolerant), cmpopts.EquateErrors())
		})
	}
}

// mustSignStandard is SignStandard for secrets known to be valid.
func mustSignStandard(tb testing.TB, secret, id string, ts time.Time, body []byte) string {
	tb.Helper()
	sig, err := signature.SignStandard(secret, id, ts, body)
	if err != nil {
		tb.Fatal(err)
	}
	return sig
}

// standardHeader returns the Standard Webhooks headers of a message.
func standardHeader(id string, ts time.Time, sig string) http.Header {
	h := http.Header{}
	h.Set(signature.HeaderID, id)
	h.Set(signature.HeaderTimestamp, fmt.Sprint(ts.Unix()))
	h.Set(signature.HeaderSignature, sig)
	return h
}
