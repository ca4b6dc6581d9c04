//go:build bench

package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackelio/webhooks/internal/testenv"
	"github.com/trackelio/webhooks/signature"
)

// receiver is the customers' endpoint: the tests' recording receiver, which
// here verifies every delivery's signature with its webhook's secret and
// answers 204 at once, so the figures are the sender's, not the receiver's.
type receiver struct {
	*testenv.Receiver

	mu      sync.Mutex
	secrets map[string]string // hook name (the URL's last segment) → secret
}

// receipt is the first arrival of one delivery.
type receipt struct {
	eventID string // the body's "id"
	at      time.Time
}

// startReceiver listens on loopback until the (sub)test ends.
func startReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{secrets: map[string]string{}}
	r.Receiver = testenv.NewReceiver(t, testenv.ReceiverConfig{Check: r.verify})
	return r
}

// url is the endpoint of one webhook; its secret is set once the service
// has generated it, before any event is sent.
func (r *receiver) url(hook string) string { return r.URL("/hooks/" + hook) }

func (r *receiver) setSecret(hook, secret string) {
	r.mu.Lock()
	r.secrets[hook] = secret
	r.mu.Unlock()
}

// verify refuses a request to an unknown hook or without a valid signature.
func (r *receiver) verify(got testenv.Received) error {
	hook, _ := strings.CutPrefix(got.URI, "/hooks/")
	r.mu.Lock()
	secret, ok := r.secrets[hook]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("delivery to unknown hook %s", got.URI)
	}
	if !signature.Verify(secret, got.Body, got.Header.Get(signature.Header)) {
		return fmt.Errorf("bad %s on delivery %s", signature.Header, got.Delivery())
	}
	return nil
}

// receipts returns the first arrival of each delivery, for latencies after
// a run, and how many requests repeated a delivery already received
// (at-least-once: a retry after a lost answer).
func (r *receiver) receipts() (map[string]receipt, int, error) {
	reqs := r.Requests()
	out := make(map[string]receipt, len(reqs))
	duplicates := 0
	for _, got := range reqs {
		if _, seen := out[got.Delivery()]; seen {
			duplicates++
			continue
		}
		var ev struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(got.Body, &ev); err != nil || ev.ID == "" {
			return nil, 0, errors.Join(fmt.Errorf("delivery %s has a body without an event id: %.200s", got.Delivery(), got.Body), err)
		}
		out[got.Delivery()] = receipt{eventID: ev.ID, at: got.At}
	}
	return out, duplicates, nil
}
