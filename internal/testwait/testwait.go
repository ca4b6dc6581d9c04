// Package testwait waits in tests for something other goroutines or
// processes bring about, by polling a condition, never by sleeping a
// schedule's full length.
package testwait

import (
	"testing"
	"time"
)

// For polls cond until it holds, and fails the test once timeout has
// passed. It polls every millisecond at first, for conditions on memory
// that hold almost at once, and backs off to every 20 ms, for conditions
// that ask a database or Redis.
func For(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for every := time.Millisecond; !cond(); every = min(2*every, 20*time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(every)
	}
}
