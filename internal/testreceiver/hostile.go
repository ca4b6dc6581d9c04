package testreceiver

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// HugeHeaderSize is the size of the header value HugeHeaders answers with:
// below net/http's default limit of 10 MB, so only a tighter bound stops a
// client from reading all of it.
const HugeHeaderSize = 9_000_000

// dripInterval is how often the drips write their next byte.
const dripInterval = 50 * time.Millisecond

// hugeValue and endlessChunk are built once and shared by every answer, so
// that a test measuring the heap of a client in this process measures the
// client, not the receivers.
var (
	hugeValue    = sync.OnceValue(func() string { return strings.Repeat("A", HugeHeaderSize) })
	endlessChunk = bytes.Repeat([]byte("x"), 32<<10)
)

// Hostile makes the answers of receivers that attack their caller: headers
// too large to hold, a body without end, a response dripped a byte at a
// time. Answers can first wait until a number of requests have arrived, so
// a test holds that many attempts in flight at once; the drips last until
// Release or until the client hangs up. One Hostile may serve several
// receivers and counts the requests they hold together. Use its handlers
// with Writes.
type Hostile struct {
	gather   int
	gathered chan struct{} // closed once gather requests have arrived
	release  chan struct{}
	once     sync.Once

	mu       sync.Mutex
	arrived  int
	inFlight int
	peak     int
}

// NewHostile returns a Hostile whose answers wait until gather requests
// have arrived (0 or 1: no wait). It is released when the test ends; release
// it yourself before stopping a client that waits for the drips to end.
func NewHostile(tb testing.TB, gather int) *Hostile {
	h := &Hostile{gather: gather, gathered: make(chan struct{}), release: make(chan struct{})}
	if gather <= 1 {
		close(h.gathered)
	}
	tb.Cleanup(h.Release)
	return h
}

// Release ends the drips: each finishes its response at once.
func (h *Hostile) Release() { h.once.Do(func() { close(h.release) }) }

// Gathered is closed once the requests the answers wait for have arrived.
func (h *Hostile) Gathered() <-chan struct{} { return h.gathered }

// PeakInFlight is the most requests the answers held at once.
func (h *Hostile) PeakInFlight() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peak
}

// HugeHeaders answers 200 with a header of HugeHeaderSize bytes and no body.
func (h *Hostile) HugeHeaders() http.HandlerFunc {
	value := hugeValue() // now, before a test measures anything
	return h.serve(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Huge", value)
		w.WriteHeader(http.StatusOK)
	})
}

// EndlessBody answers 200 and writes a body until the client hangs up.
func (h *Hostile) EndlessBody() http.HandlerFunc {
	return h.serve(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		for {
			if _, err := w.Write(endlessChunk); err != nil {
				return
			}
		}
	})
}

// DripHeaders writes a status line and then one header a byte at a time;
// on Release it ends the headers, answering 200 with an empty body.
func (h *Hostile) DripHeaders() http.HandlerFunc {
	return h.serve(func(w http.ResponseWriter, _ *http.Request) {
		// Only a hijacked connection can send part of a header.
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic("testreceiver: DripHeaders needs an HTTP/1 server: " + err.Error())
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nX-Drip: ")
		if buf.Flush() != nil || !h.drip(func() error { _, err := conn.Write([]byte("a")); return err }, nil) {
			return
		}
		conn.Write([]byte("\r\nContent-Length: 0\r\n\r\n"))
	})
}

// DripBody answers 200 at once with the first byte of a body whose next
// bytes follow a byte at a time; on Release it ends the body.
func (h *Hostile) DripBody() http.HandlerFunc {
	return h.serve(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		w.WriteHeader(http.StatusOK)
		h.drip(func() error {
			if _, err := w.Write([]byte("a")); err != nil {
				return err
			}
			return rc.Flush()
		}, r.Context().Done())
	})
}

// drip calls write at once and then every dripInterval until Release (true)
// or until write fails or gone is closed, when the client has hung up
// (false).
func (h *Hostile) drip(write func() error, gone <-chan struct{}) bool {
	tick := time.NewTicker(dripInterval)
	defer tick.Stop()
	for {
		if write() != nil {
			return false
		}
		select {
		case <-h.release:
			return true
		case <-gone:
			return false
		case <-tick.C:
		}
	}
}

// serve wraps an answer: it counts the request in flight and starts
// answering once the requests to gather have arrived, or never when the
// client hangs up first.
func (h *Hostile) serve(answer http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h.enter()
		defer h.leave()
		select {
		case <-h.gathered:
			answer(w, r)
		case <-r.Context().Done():
		}
	}
}

func (h *Hostile) enter() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.inFlight++
	h.peak = max(h.peak, h.inFlight)
	// A gather of 0 or 1 was closed by NewHostile.
	if h.arrived++; h.gather > 1 && h.arrived == h.gather {
		close(h.gathered)
	}
}

func (h *Hostile) leave() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.inFlight--
}
