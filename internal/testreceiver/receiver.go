// Package testreceiver is the webhook endpoint of the tests and the bench:
// Receiver, a local HTTP(S) server that records every request, answers as
// the test scripts it and counts what it holds at once; and Hostile, the
// answers of receivers that attack their caller.
package testreceiver

import (
	"cmp"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// DeliveryHeader names the header that carries a delivery's id.
const DeliveryHeader = "X-Trackelio-Delivery"

// Received is one request a Receiver got, as it arrived.
type Received struct {
	Method string
	URI    string // the request target as sent: path and query
	Header http.Header
	Body   []byte
	At     time.Time
	// Status is what the receiver answered; 0 when Answer.Write wrote
	// the reply or the request hung.
	Status int
}

// Delivery returns the request's X-Trackelio-Delivery header.
func (r Received) Delivery() string { return r.Header.Get(DeliveryHeader) }

// Answer is a Receiver's reply to one request.
type Answer struct {
	Status int // 0 answers 204
	Body   string
	Header map[string]string
	// Hang holds the request and answers nothing until the client gives
	// up or the test ends.
	Hang bool
	// Write, when set, writes the reply itself (headers, partial bodies,
	// flushes, stalls); the fields above are then unused.
	Write http.HandlerFunc
}

// Reply picks the answer to a request: n is its 1-based position among all
// the requests a Receiver got, k among those carrying the same delivery id.
type Reply func(r Received, n, k int) Answer

// Always answers every request with status and body.
func Always(status int, body string) Reply {
	return func(Received, int, int) Answer { return Answer{Status: status, Body: body} }
}

// Statuses answers the nth request with the nth status, the last one
// repeating, and a body naming the attempt.
func Statuses(codes ...int) Reply {
	return func(_ Received, n, _ int) Answer {
		code := codes[min(n, len(codes))-1]
		return Answer{Status: code, Body: fmt.Sprintf("answer %d: %d", n, code)}
	}
}

// Hangs holds every request until the client gives up or the test ends.
func Hangs() Reply {
	return func(Received, int, int) Answer { return Answer{Hang: true} }
}

// Writes answers every request with h.
func Writes(h http.HandlerFunc) Reply {
	return func(Received, int, int) Answer { return Answer{Write: h} }
}

// Switch answers as on while flag holds and as off otherwise: an endpoint
// the test breaks or mends as it goes.
func Switch(flag *atomic.Bool, on, off Reply) Reply {
	return func(r Received, n, k int) Answer {
		if flag.Load() {
			return on(r, n, k)
		}
		return off(r, n, k)
	}
}

// Config says how a Receiver answers and what it checks.
type Config struct {
	// Reply picks each answer. It runs under the receiver's lock in
	// arrival order, so it may keep state without its own. Nil answers
	// 204 to everything.
	Reply Reply
	// Check looks at every request as it arrives, before Reply; an error
	// fails the test and is kept for Err, and the reply is still Reply's.
	Check func(Received) error
	// Latency delays every answer.
	Latency time.Duration
	// Delay, when set, picks each answer's delay instead of Latency, for
	// endpoints whose latency varies. It runs concurrently.
	Delay func() time.Duration
	// TLS serves HTTPS with httptest's self-signed certificate (see
	// Certificate), as most real endpoints are.
	TLS bool
	// Listeners is how many listeners (distinct host:ports, as distinct
	// endpoints are distinct hosts) serve the one handler, and so share
	// its records; 0 means one. URL and Addr are the first's.
	Listeners int
}

// Receiver is a webhook endpoint on loopback that records every request
// and its answer, checks each one, and counts how many it holds at once.
// It is the one recording receiver of the tests and the bench.
type Receiver struct {
	tb   testing.TB
	cfg  Config
	srvs []*httptest.Server
	done chan struct{}

	mu          sync.Mutex
	got         []Received
	perDelivery map[string]int
	conns       []time.Time
	inFlight    int
	peak        int
	failed      int
	firstErr    error
}

// New starts a Receiver that closes when the test ends. Start it before
// what sends to it, so that stops first.
func New(tb testing.TB, cfg Config) *Receiver {
	tb.Helper()
	r := &Receiver{tb: tb, cfg: cfg, done: make(chan struct{}), perDelivery: map[string]int{}}
	for range max(cfg.Listeners, 1) {
		r.srvs = append(r.srvs, r.listen())
	}
	tb.Cleanup(func() {
		close(r.done) // releases hanging requests, which Close waits for
		for _, srv := range r.srvs {
			srv.Close()
		}
	})
	return r
}

// listen starts one listener of the handler, recording the connections it
// accepts so a test can tell pooled connections from new ones (with TLS,
// each new one is a handshake).
func (r *Receiver) listen() *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(r.serveHTTP))
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			r.mu.Lock()
			r.conns = append(r.conns, time.Now())
			r.mu.Unlock()
		}
	}
	if r.cfg.TLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	return srv
}

// delay is how long to hold the answer to one request.
func (r *Receiver) delay() time.Duration {
	if r.cfg.Delay != nil {
		return r.cfg.Delay()
	}
	return r.cfg.Latency
}

// hold counts a request in flight from its arrival, delay included, and
// returns the function that counts it out.
func (r *Receiver) hold() (release func()) {
	r.mu.Lock()
	r.inFlight++
	r.peak = max(r.peak, r.inFlight)
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		r.inFlight--
		r.mu.Unlock()
	}
}

func (r *Receiver) serveHTTP(w http.ResponseWriter, req *http.Request) {
	defer r.hold()()
	time.Sleep(r.delay())
	body, err := io.ReadAll(req.Body)
	if err != nil {
		r.tb.Errorf("testreceiver: read body: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	got := Received{Method: req.Method, URI: req.RequestURI, Header: req.Header.Clone(), Body: body, At: time.Now()}
	if r.cfg.Check != nil {
		if err := r.cfg.Check(got); err != nil {
			r.tb.Errorf("testreceiver: %s %s: %v", got.Method, got.URI, err)
			r.mu.Lock()
			r.failed++
			if r.firstErr == nil {
				r.firstErr = err
			}
			r.mu.Unlock()
		}
	}

	r.mu.Lock()
	r.perDelivery[got.Delivery()]++
	a := Answer{Status: http.StatusNoContent}
	if r.cfg.Reply != nil {
		a = r.cfg.Reply(got, len(r.got)+1, r.perDelivery[got.Delivery()])
	}
	if a.Write == nil && !a.Hang {
		got.Status = cmp.Or(a.Status, http.StatusNoContent)
	}
	r.got = append(r.got, got)
	r.mu.Unlock()

	switch {
	case a.Write != nil:
		a.Write(w, req)
	case a.Hang:
		select {
		case <-req.Context().Done():
		case <-r.done:
		}
	default:
		for k, v := range a.Header {
			w.Header().Set(k, v)
		}
		if a.Body != "" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		}
		w.WriteHeader(got.Status)
		io.WriteString(w, a.Body)
	}
}

// URL returns the receiver's URL for a path, which may carry a query.
func (r *Receiver) URL(path string) string { return r.ListenerURL(0, path) }

// ListenerURL is URL on listener i (0 to Listeners-1): one endpoint among
// several distinct hosts.
func (r *Receiver) ListenerURL(i int, path string) string { return r.srvs[i].URL + path }

// Addr is the receiver's host:port.
func (r *Receiver) Addr() string { return r.srvs[0].Listener.Addr().String() }

// Certificate is the certificate the listeners serve over TLS (httptest's,
// the same for all), for a client to trust; nil without TLS.
func (r *Receiver) Certificate() *x509.Certificate { return r.srvs[0].Certificate() }

// Conns returns when each connection was accepted so far, over all the
// listeners, in the order they were recorded.
func (r *Receiver) Conns() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.conns...)
}

// Requests returns a copy of the requests received so far, in order.
func (r *Receiver) Requests() []Received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Received(nil), r.got...)
}

// Request returns the first request of a delivery, failing the test when
// there is none.
func (r *Receiver) Request(tb testing.TB, deliveryID string) Received {
	tb.Helper()
	for _, got := range r.Requests() {
		if got.Delivery() == deliveryID {
			return got
		}
	}
	tb.Fatalf("the receiver got no request for delivery %s", deliveryID)
	return Received{}
}

// Count is how many requests arrived so far.
func (r *Receiver) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// Deliveries is how many distinct delivery ids arrived so far.
func (r *Receiver) Deliveries() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.perDelivery)
}

// PeakInFlight is the most requests the receiver held at once, over all
// its listeners, counting each from its arrival (its delay included).
func (r *Receiver) PeakInFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peak
}

// Err reports the requests Check refused: nil when none was.
func (r *Receiver) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failed == 0 {
		return nil
	}
	return fmt.Errorf("the receiver refused %d requests; first: %w", r.failed, r.firstErr)
}
