//go:build bench

package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackelio/webhooks/signature"
)

// receiver is the customers' endpoint: it verifies every delivery's
// signature, records when each delivery first arrived, and answers 204 at
// once so the figures are the sender's, not the receiver's.
type receiver struct {
	base     string
	verified atomic.Int64
	failed   atomic.Int64 // bad or missing signature, unknown hook, unreadable body

	mu         sync.Mutex
	secrets    map[string]string // hook name (the URL's last segment) → secret
	receipts   map[string]receipt
	duplicates int
	firstErr   string
}

// receipt is the first arrival of one delivery.
type receipt struct {
	eventID string // the body's "id"
	at      time.Time
}

// startReceiver listens on loopback until the (sub)test ends.
func startReceiver(t *testing.T) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("receiver: listen: %v", err)
	}
	r := &receiver{base: "http://" + ln.Addr().String(), secrets: map[string]string{}, receipts: map[string]receipt{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /hooks/{hook}", r.serve)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}

// url is the endpoint of one webhook; its secret is set once the service
// has generated it, before any event is sent.
func (r *receiver) url(hook string) string { return r.base + "/hooks/" + hook }

func (r *receiver) setSecret(hook, secret string) {
	r.mu.Lock()
	r.secrets[hook] = secret
	r.mu.Unlock()
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	at := time.Now()
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		r.fail(w, fmt.Sprintf("read body: %v", err))
		return
	}
	r.mu.Lock()
	secret, ok := r.secrets[req.PathValue("hook")]
	r.mu.Unlock()
	if !ok {
		r.fail(w, "delivery to unknown hook "+req.URL.Path)
		return
	}
	if !signature.Verify(secret, body, req.Header.Get(signature.Header)) {
		r.fail(w, fmt.Sprintf("bad %s on delivery %s", signature.Header, req.Header.Get("X-Trackelio-Delivery")))
		return
	}
	var ev struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" {
		r.fail(w, fmt.Sprintf("body without an event id: %.200s", body))
		return
	}
	r.verified.Add(1)
	id := req.Header.Get("X-Trackelio-Delivery")
	r.mu.Lock()
	if _, seen := r.receipts[id]; seen {
		r.duplicates++ // at-least-once: a retry after a lost answer
	} else {
		r.receipts[id] = receipt{eventID: ev.ID, at: at}
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) fail(w http.ResponseWriter, why string) {
	r.failed.Add(1)
	r.mu.Lock()
	if r.firstErr == "" {
		r.firstErr = why
	}
	r.mu.Unlock()
	http.Error(w, why, http.StatusUnauthorized)
}

// unique is the number of distinct deliveries received and verified.
func (r *receiver) unique() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.receipts)
}

// check fails when any delivery did not verify.
func (r *receiver) check() error {
	if n := r.failed.Load(); n > 0 {
		r.mu.Lock()
		defer r.mu.Unlock()
		return fmt.Errorf("receiver refused %d deliveries; first: %s", n, r.firstErr)
	}
	return nil
}

// snapshot copies the receipts, for computing latencies after a run.
func (r *receiver) snapshot() (map[string]receipt, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]receipt, len(r.receipts))
	for k, v := range r.receipts {
		out[k] = v
	}
	return out, r.duplicates
}
