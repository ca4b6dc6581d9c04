package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testreceiver"
)

// receiver is a webhook endpoint on loopback that holds every delivery it
// gets to its type's published schema.
type receiver struct{ *testreceiver.Receiver }

// newReceiver starts a receiver answering with reply; it closes when the
// test ends. Create it before the system, so the processes stop first.
func newReceiver(t testing.TB, reply testreceiver.Reply) *receiver {
	t.Helper()
	return newSlowReceiver(t, reply, 0)
}

// newSlowReceiver is newReceiver with every answer delayed by latency.
func newSlowReceiver(t testing.TB, reply testreceiver.Reply, latency time.Duration) *receiver {
	t.Helper()
	return &receiver{testreceiver.New(t, testreceiver.Config{Reply: reply, Check: checkPayload, Latency: latency})}
}

// checkPayload refuses a body that is not a delivery whose data its type's
// published schema accepts: every delivery of these tests is held to the
// contract receivers are promised. Test events are not in the catalog and
// have no schema.
func checkPayload(r testreceiver.Received) error {
	var ev struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(r.Body, &ev); err != nil {
		return fmt.Errorf("a delivery's body is not JSON: %w\n%s", err, r.Body)
	}
	if ev.Type == delivery.TestEventType {
		return nil
	}
	if err := testfactory.Schemas().Validate(ev.Type, ev.Data); err != nil {
		return fmt.Errorf("a %s delivery breaks its schema: %w\n%s", ev.Type, err, r.Body)
	}
	return nil
}

// waitRequests waits until the receiver has at least n requests and
// returns them all.
func (r *receiver) waitRequests(t testing.TB, s *system, n int) []testreceiver.Received {
	t.Helper()
	var got []testreceiver.Received
	s.waitFor(t, fmt.Sprintf("%d requests at %s", n, r.URL("")), func() (bool, string) {
		got = r.Requests()
		return len(got) >= n, fmt.Sprintf("%d requests", len(got))
	})
	return got
}
