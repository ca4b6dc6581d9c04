package testproc

import (
	"strings"
	"testing"
)

// Getenv is an os.Getenv over vars, for the binaries' loadConfig(getenv).
func Getenv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// LoadConfig is the signature of the binaries' loadConfig.
type LoadConfig[C any] func(getenv func(string) string) (C, error)

// MustLoad is load over vars, which it must accept.
func MustLoad[C any](tb testing.TB, load LoadConfig[C], vars map[string]string) C {
	tb.Helper()
	c, err := load(Getenv(vars))
	if err != nil {
		tb.Fatalf("loadConfig: %v", err)
	}
	return c
}

// WantRefused checks that load refuses each of settings, a "KEY=value" set
// alone (or several, separated by "; "), with an error containing the text
// it maps to. Each is a parallel subtest named for the setting.
func WantRefused[C any](t *testing.T, load LoadConfig[C], settings map[string]string) {
	t.Helper()
	for setting, want := range settings {
		t.Run(setting, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			for kv := range strings.SplitSeq(setting, "; ") {
				key, value, _ := strings.Cut(kv, "=")
				env[key] = value
			}
			_, err := load(Getenv(env))
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("loadConfig error = %v, want one containing %q", err, want)
			}
		})
	}
}
