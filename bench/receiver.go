//go:build bench

package bench

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackelio/webhooks/internal/testreceiver"
	"github.com/trackelio/webhooks/signature"
)

// receiver is the customers' endpoints: the tests' recording receiver,
// which here verifies every delivery's signature with its webhook's secret
// and answers 204 at once unless the run asks for latency or failures, so
// the figures are the sender's, not the receiver's. Its webhooks share one
// listener, or each has its own host:port as distinct customers do, so the
// worker's per-host connection pools are exercised.
type receiver struct {
	*testreceiver.Receiver
	hooks     int // webhooks it answers for, numbered from 0
	listeners int
	replies   []testreceiver.Reply // per webhook index; nil answers 204 to all

	mu      sync.Mutex
	secrets map[string]string // hook name (the URL's last segment) → secret
}

// endpoints is how a receiver's webhooks answer.
type endpoints struct {
	hooks   int
	own     bool // each webhook its own listener, else one for all
	tls     bool
	delay   func() time.Duration // nil answers at once
	replies []testreceiver.Reply // one per webhook; nil answers 204
}

// receipt is the first arrival of one delivery.
type receipt struct {
	eventID string // the body's "id"
	at      time.Time
}

// startReceiver listens on loopback until the (sub)test ends.
func startReceiver(t *testing.T, e endpoints) *receiver {
	t.Helper()
	r := &receiver{hooks: e.hooks, listeners: 1, replies: e.replies, secrets: map[string]string{}}
	if e.own {
		r.listeners = e.hooks
	}
	cfg := testreceiver.Config{Check: r.verify, Delay: e.delay, TLS: e.tls, Listeners: r.listeners}
	if e.replies != nil {
		cfg.Reply = r.reply
	}
	r.Receiver = testreceiver.New(t, cfg)
	return r
}

// url is the endpoint of webhook i, on its own listener or the shared one;
// its secret is set once the service has generated it, before any event
// is sent.
func (r *receiver) url(i int) string {
	return r.ListenerURL(i%r.listeners, "/hooks/"+strconv.Itoa(i))
}

func (r *receiver) setSecret(i int, secret string) {
	r.mu.Lock()
	r.secrets[strconv.Itoa(i)] = secret
	r.mu.Unlock()
}

// verify refuses a request to an unknown hook or without a valid signature.
func (r *receiver) verify(got testreceiver.Received) error {
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

// reply answers as the webhook a request is for does; verify has already
// refused an unknown one, which gets a 404.
func (r *receiver) reply(got testreceiver.Received, n, k int) testreceiver.Answer {
	i, err := strconv.Atoi(strings.TrimPrefix(got.URI, "/hooks/"))
	if err != nil || i < 0 || i >= len(r.replies) {
		return testreceiver.Answer{Status: http.StatusNotFound}
	}
	return r.replies[i](got, n, k)
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

// fixedLatency is a receiver that always takes d, as a slow endpoint does.
func fixedLatency(d time.Duration) func() time.Duration {
	return func() time.Duration { return d }
}

// mixedLatency draws an answer time from a log-normal distribution with
// median mixedMedian and 99th percentile mixedP99, as a realistic fleet of
// endpoints answers, capped at mixedCap.
func mixedLatency() time.Duration {
	const z99 = 2.3263478740408408 // the standard normal's 99th percentile
	sigma := math.Log(float64(mixedP99)/float64(mixedMedian)) / z99
	return min(time.Duration(float64(mixedMedian)*math.Exp(sigma*rand.NormFloat64())), mixedCap)
}

// badEndpoints are the mixed run's failing webhooks: three answer 500, one
// throttles (429 with Retry-After: 5), and one hangs until the worker gives
// up (DELIVERY_TIMEOUT).
func badEndpoints() []testreceiver.Reply {
	failing := testreceiver.Always(http.StatusInternalServerError, "bench: failing endpoint")
	throttling := func(testreceiver.Received, int, int) testreceiver.Answer {
		return testreceiver.Answer{Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": "5"}}
	}
	return []testreceiver.Reply{failing, failing, failing, throttling, testreceiver.Hangs()}
}

// writeTrust writes the receivers' certificates as PEM into dir and returns
// the file, for the worker's DELIVERY_CA_FILE: httptest's certificate is
// self-signed, so the worker must be told to trust it.
func writeTrust(dir string, rcvs []*receiver) (string, error) {
	var buf bytes.Buffer
	for _, r := range rcvs {
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate().Raw}); err != nil {
			return "", fmt.Errorf("encode a receiver's certificate: %w", err)
		}
	}
	file := filepath.Join(dir, "receivers-ca.pem")
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		return "", fmt.Errorf("write the receivers' CA file: %w", err)
	}
	return file, nil
}

// steady is what a run's receivers saw in its steady window: from a
// warm-up after the first POST to the end of offering, when neither the
// start (empty pools, cold caches) nor the drain weighs.
type steady struct {
	from, to   time.Time
	deliveries int // first arrivals
	conns      int // connections accepted: over TLS, one handshake each
}

// steadyWindow counts what rcvs saw between from and to.
func steadyWindow(from, to time.Time, rcvs []*receiver) (steady, error) {
	w := steady{from: from, to: to}
	for _, r := range rcvs {
		receipts, _, err := r.receipts()
		if err != nil {
			return steady{}, err
		}
		for _, rc := range receipts {
			w.deliveries += w.count(rc.at)
		}
		for _, at := range r.Conns() {
			w.conns += w.count(at)
		}
	}
	return w, nil
}

// count is 1 when at falls in the window, else 0.
func (w steady) count(at time.Time) int {
	if at.Before(w.from) || at.After(w.to) {
		return 0
	}
	return 1
}

func (w steady) perSecond() float64 { return float64(w.deliveries) / w.to.Sub(w.from).Seconds() }

// connsPer1k is the new connections per 1,000 deliveries: 0 when every
// delivery rode a pooled connection.
func (w steady) connsPer1k() float64 { return 1000 * float64(w.conns) / float64(w.deliveries) }
