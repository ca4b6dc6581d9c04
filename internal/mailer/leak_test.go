package mailer_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine running: a Send
// that returned must have let go of its connection.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
