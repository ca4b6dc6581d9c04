package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trackelio/webhooks/catalog"
	"github.com/trackelio/webhooks/internal/testenv"
)

// received is one request a receiver got, as it arrived.
type received struct {
	Method string
	URI    string
	Header http.Header
	Body   []byte
	At     time.Time
	Status int // what the receiver answered
}

// delivery returns the request's X-Trackelio-Delivery header.
func (r received) delivery() string { return r.Header.Get("X-Trackelio-Delivery") }

// reply chooses the answer to a receiver's nth request (1-based).
type reply func(n int, r received) (status int, body string)

// always answers every request the same way.
func always(status int, body string) reply {
	return func(int, received) (int, string) { return status, body }
}

// statuses answers the nth request with the nth status (the last one
// repeating) and a body naming the attempt.
func statuses(codes ...int) reply {
	return func(n int, _ received) (int, string) {
		code := codes[min(n, len(codes))-1]
		return code, fmt.Sprintf("answer %d: %d", n, code)
	}
}

// receiver is a webhook endpoint on loopback that records every request.
type receiver struct {
	t     testing.TB
	srv   *httptest.Server
	reply reply
	// latency delays every answer; set it before the first request.
	latency time.Duration

	mu  sync.Mutex
	got []received
}

// newReceiver starts a receiver; it closes when the test ends. Create it
// before the system, so the processes stop first.
func newReceiver(t testing.TB, rep reply) *receiver {
	t.Helper()
	r := &receiver{t: t, reply: rep}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serveHTTP))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serveHTTP(w http.ResponseWriter, req *http.Request) {
	time.Sleep(r.latency)
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	got := received{Method: req.Method, URI: req.RequestURI, Header: req.Header.Clone(), Body: body, At: time.Now()}
	checkPayload(r.t, body)
	r.mu.Lock()
	status, answer := r.reply(len(r.got)+1, got)
	got.Status = status
	r.got = append(r.got, got)
	r.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, answer)
}

// checkPayload fails the test unless body is a delivery whose data its
// type's published schema accepts: every delivery of these tests is held
// to the contract receivers are promised. Test events are not in the
// catalog and have no schema.
func checkPayload(t testing.TB, body []byte) {
	var ev struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Errorf("a delivery's body is not JSON: %v\n%s", err, body)
		return
	}
	if ev.Type == catalog.TestType {
		return
	}
	if err := testenv.Schemas().Validate(ev.Type, ev.Data); err != nil {
		t.Errorf("a %s delivery breaks its schema: %v\n%s", ev.Type, err, body)
	}
}

// url returns the receiver's URL for a path (which may carry a query).
func (r *receiver) url(path string) string { return r.srv.URL + path }

// requests returns a copy of the requests received so far, in order.
func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// request returns the request the receiver got for a delivery, failing the
// test when there is none.
func (r *receiver) request(t testing.TB, deliveryID string) received {
	t.Helper()
	for _, got := range r.requests() {
		if got.delivery() == deliveryID {
			return got
		}
	}
	t.Fatalf("the receiver got no request for delivery %s", deliveryID)
	return received{}
}

// waitRequests waits until the receiver has at least n requests and
// returns them all.
func (r *receiver) waitRequests(t testing.TB, s *system, n int) []received {
	t.Helper()
	var got []received
	s.waitFor(t, fmt.Sprintf("%d requests at the receiver", n), func() (bool, string) {
		got = r.requests()
		return len(got) >= n, fmt.Sprintf("%d requests", len(got))
	})
	return got
}

// answer is what an endpoint replies to one request.
type answer struct {
	status int
	body   string
	header map[string]string
	// hang holds the request until the client gives up (or the test ends)
	// and answers nothing.
	hang bool
}

// endpoint is a loopback receiver whose answers can depend on the request
// and on how many requests of the same delivery came before. It also
// tracks how many requests it holds at once.
type endpoint struct {
	t   testing.TB
	srv *httptest.Server
	// handle picks the answer to a request; k is its 1-based position among
	// the requests carrying the same X-Trackelio-Delivery. It runs under mu.
	handle func(r received, k int) answer
	done   chan struct{}

	mu          sync.Mutex
	got         []received
	perDelivery map[string]int
	inFlight    int
	maxInFlight int
}

// newEndpoint starts an endpoint; it closes when the test ends. Create it
// before the system, so the processes stop first.
func newEndpoint(t testing.TB, handle func(r received, k int) answer) *endpoint {
	t.Helper()
	e := &endpoint{t: t, handle: handle, done: make(chan struct{}), perDelivery: map[string]int{}}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serveHTTP))
	t.Cleanup(func() {
		close(e.done)
		e.srv.Close()
	})
	return e
}

func (e *endpoint) serveHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	got := received{Method: req.Method, URI: req.RequestURI, Header: req.Header.Clone(), Body: body, At: time.Now()}
	checkPayload(e.t, body)
	e.mu.Lock()
	e.got = append(e.got, got)
	e.perDelivery[got.delivery()]++
	a := e.handle(got, e.perDelivery[got.delivery()])
	e.inFlight++
	e.maxInFlight = max(e.maxInFlight, e.inFlight)
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.inFlight--
		e.mu.Unlock()
	}()
	if a.hang {
		select {
		case <-req.Context().Done():
		case <-e.done:
		}
		return
	}
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

func (e *endpoint) url(path string) string { return e.srv.URL + path }

func (e *endpoint) requests() []received {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.got)
}

func (e *endpoint) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.got)
}

func (e *endpoint) peakInFlight() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.maxInFlight
}

func (e *endpoint) waitRequests(t testing.TB, s *system, n int) []received {
	t.Helper()
	var got []received
	s.waitFor(t, fmt.Sprintf("%d requests at %s", n, e.srv.URL), func() (bool, string) {
		got = e.requests()
		return len(got) >= n, fmt.Sprintf("%d requests", len(got))
	})
	return got
}
