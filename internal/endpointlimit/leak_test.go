package endpointlimit_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine running: a Limits
// renews its shares in the background until it is closed.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
