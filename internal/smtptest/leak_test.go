package smtptest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine running: a
// Server serves every connection on a goroutine of its own.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
