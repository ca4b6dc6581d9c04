package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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

// answer is what a receiver replies to one request.
type answer struct {
	status int
	body   string
	header map[string]string
	// hang holds the request until the client gives up (or the test ends)
	// and answers nothing.
	hang bool
}

// receiver is a webhook endpoint on loopback that records every request
// and what it answered, checks each delivery against its schema, and
// tracks how many requests it holds at once.
type receiver struct {
	t   testing.TB
	srv *httptest.Server
	// handle picks the answer to a request: n is its 1-based position among
	// all requests, k among those carrying the same X-Trackelio-Delivery.
	// It runs under mu.
	handle func(r received, n, k int) answer
	// latency delays every answer; set it before the first request.
	latency time.Duration
	done    chan struct{}

	mu          sync.Mutex
	got         []received
	perDelivery map[string]int
	inFlight    int
	maxInFlight int
}

// newReceiver starts a receiver whose answers rep picks by the request's
// position; it closes when the test ends. Create it before the system, so
// the processes stop first.
func newReceiver(t testing.TB, rep reply) *receiver {
	t.Helper()
	return startReceiver(t, func(r received, n, _ int) answer {
		status, body := rep(n, r)
		return answer{status: status, body: body}
	})
}

// newEndpoint starts a receiver whose answers depend on the request and on
// how many requests of the same delivery came before (k, 1-based).
func newEndpoint(t testing.TB, handle func(r received, k int) answer) *receiver {
	t.Helper()
	return startReceiver(t, func(r received, _, k int) answer { return handle(r, k) })
}

func startReceiver(t testing.TB, handle func(r received, n, k int) answer) *receiver {
	t.Helper()
	r := &receiver{t: t, handle: handle, done: make(chan struct{}), perDelivery: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serveHTTP))
	t.Cleanup(func() {
		close(r.done)
		r.srv.Close()
	})
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
	r.perDelivery[got.delivery()]++
	a := r.handle(got, len(r.got)+1, r.perDelivery[got.delivery()])
	got.Status = a.status
	r.got = append(r.got, got)
	r.inFlight++
	r.maxInFlight = max(r.maxInFlight, r.inFlight)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.inFlight--
		r.mu.Unlock()
	}()
	if a.hang {
		select {
		case <-req.Context().Done():
		case <-r.done:
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
	s.waitFor(t, fmt.Sprintf("%d requests at %s", n, r.srv.URL), func() (bool, string) {
		got = r.requests()
		return len(got) >= n, fmt.Sprintf("%d requests", len(got))
	})
	return got
}

// count is how many requests arrived so far.
func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// peakInFlight is the most requests the receiver held at once.
func (r *receiver) peakInFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maxInFlight
}
