package signature_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trackelio/webhooks/signature"
)

// verifierCase is one entry of the cases file read by the documentation's
// verifiers in e2e/testdata.
type verifierCase struct {
	BodyB64   string `json:"body_b64"`
	Secret    string `json:"secret"`
	Signature string `json:"signature"`
}

// verifierRun is what a verifier run is judged by.
type verifierRun struct {
	ExitCode int
	Summary  string // the last line printed
}

// TestDocumentedVerifiers runs the Node.js and Python verifiers published in
// the customer documentation over Sign's output for every vector, and over a
// tampered body, which they must reject.
func TestDocumentedVerifiers(t *testing.T) {
	t.Parallel()
	vs := mustLoadVectors(t)
	var valid []verifierCase
	for _, v := range vs {
		valid = append(valid, verifierCase{
			BodyB64:   base64.StdEncoding.EncodeToString(v.body()),
			Secret:    v.Secret,
			Signature: signature.Sign(v.Secret, v.body()),
		})
	}
	tampered := vs[0].body() // a fresh copy
	tampered[0] ^= 1         // '{' becomes 'z'
	forged := []verifierCase{{
		BodyB64:   base64.StdEncoding.EncodeToString(tampered),
		Secret:    vs[0].Secret,
		Signature: signature.Sign(vs[0].Secret, vs[0].body()),
	}}

	n := len(valid)
	tests := []struct {
		name  string
		argv  []string
		cases []verifierCase
		want  verifierRun
	}{
		// The Node.js driver checks each body as a Buffer and as a string.
		{"node accepts", []string{"node", "../e2e/testdata/verify.js"}, valid, verifierRun{0, strconv.Itoa(n) + " cases, 0 rejections"}},
		{"node rejects tampered", []string{"node", "../e2e/testdata/verify.js"}, forged, verifierRun{1, "1 cases, 2 rejections"}},
		{"python accepts", []string{"python3", "../e2e/testdata/verify.py"}, valid, verifierRun{0, strconv.Itoa(n) + " cases, 0 rejections"}},
		{"python rejects tampered", []string{"python3", "../e2e/testdata/verify.py"}, forged, verifierRun{1, "1 cases, 1 rejections"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantEqual(t, "verifier run", tt.want, mustRunVerifier(t, tt.argv, tt.cases))
		})
	}
}

// mustRunVerifier writes cases to a file and runs argv with its path appended.
// A missing interpreter fails the test: these checks are the contract with
// customers' receivers and must not be skipped silently.
func mustRunVerifier(t *testing.T, argv []string, cases []verifierCase) verifierRun {
	t.Helper()
	if _, err := exec.LookPath(argv[0]); err != nil {
		t.Fatalf("%s is required: %v", argv[0], err)
	}
	data, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cases.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], append(argv[1:], path)...).CombinedOutput()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("run %v: %v\n%s", argv, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if exitErr != nil {
		t.Logf("%v output:\n%s", argv, out)
		return verifierRun{exitErr.ExitCode(), lines[len(lines)-1]}
	}
	return verifierRun{0, lines[len(lines)-1]}
}
