package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/trackelio/webhooks/internal/testenv"
)

// This file tests how the service treats struggling receivers (Retry-After,
// 410 Gone, the per-webhook in-flight cap, the circuit breaker), recovery of
// failed deliveries, test events, secret rotation and the Standard Webhooks
// headers. Measured figures are logged as "FIGURE name=value" lines.

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

// webhookHealth is the health part of a webhook object.
type webhookHealth struct {
	ID                  string     `json:"id"`
	Active              bool       `json:"active"`
	FailureCount        int        `json:"failure_count"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	LastSuccessAt       *time.Time `json:"last_success_at"`
	LastFailureAt       *time.Time `json:"last_failure_at"`
	DisabledReason      *string    `json:"disabled_reason"`
	DisabledAt          *time.Time `json:"disabled_at"`
	SuccessRate24h      *float64   `json:"success_rate_24h"`
}

func (w *workspace) health(t testing.TB, id string) webhookHealth {
	t.Helper()
	var h webhookHealth
	w.call(t, "GET", "/v1/webhooks/"+id, nil, http.StatusOK, &h)
	return h
}

// deliveryRow is a history entry with the field recovery sets.
type deliveryRow struct {
	delivery
	RedeliveryOf *string `json:"redelivery_of"`
}

// rows returns a webhook's history (at most 100 deliveries), newest first.
func (w *workspace) rows(t testing.TB, webhookID string) []deliveryRow {
	t.Helper()
	var resp struct {
		Data       []deliveryRow `json:"data"`
		NextCursor *string       `json:"next_cursor"`
	}
	w.call(t, "GET", "/v1/webhooks/"+webhookID+"/deliveries?limit=100", nil, http.StatusOK, &resp)
	if resp.NextCursor != nil {
		t.Fatalf("history of %s has more than 100 deliveries", webhookID)
	}
	return resp.Data
}

// rememberSecret adds a secret to those no process may log.
func (s *system) rememberSecret(secret string) {
	s.mu.Lock()
	s.secrets = append(s.secrets, secret)
	s.mu.Unlock()
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// eventID returns the "id" of a delivered body.
func eventID(t testing.TB, body []byte) string {
	t.Helper()
	var b struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("delivered body is not JSON: %v\n%s", err, body)
	}
	return b.ID
}

// verifyStandard checks a request's Standard Webhooks headers with the
// published library and the given secret.
func verifyStandard(t testing.TB, secret string, r received) error {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatalf("standardwebhooks.NewWebhook: %v", err)
	}
	return wh.Verify(r.Body, r.Header)
}

func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	// One endpoint per way of pushing back; each answers the first request
	// of a delivery with it and the second with 200.
	first := func(a answer) func(received, int) answer {
		return func(_ received, k int) answer {
			if k == 1 {
				return a
			}
			return answer{status: http.StatusOK, body: "ok"}
		}
	}
	seconds := newEndpoint(t, first(answer{status: http.StatusTooManyRequests, body: "slow down",
		header: map[string]string{"Retry-After": "2"}}))
	// The HTTP date is computed from the receive time, 2 to 3 s ahead
	// (the format has whole seconds).
	dateOf := func(r received) time.Time { return r.At.Add(3 * time.Second).Truncate(time.Second) }
	date := newEndpoint(t, func(r received, k int) answer {
		if k == 1 {
			return answer{status: http.StatusServiceUnavailable, body: "maintenance",
				header: map[string]string{"Retry-After": dateOf(r).UTC().Format(http.TimeFormat)}}
		}
		return answer{status: http.StatusOK, body: "ok"}
	})
	capped := newEndpoint(t, first(answer{status: http.StatusTooManyRequests, body: "slow down",
		header: map[string]string{"Retry-After": "30"}}))
	bare := newEndpoint(t, first(answer{status: http.StatusTooManyRequests, body: "slow down"}))

	// The schedule's longest delay (3s) caps Retry-After, so the first
	// delay is short and the 2 s asked for stay under the cap. (With a
	// schedule of "100ms" alone the cap would be 100ms and Retry-After: 2
	// would be cut to RETRY_MIN_AFTER_THROTTLE.)
	const scheduleCap = 3 * time.Second
	const minAfterThrottle = 500 * time.Millisecond
	sys := startSystem(t, options{retrySchedule: "100ms,3s", env: map[string]string{
		"RETRY_MIN_AFTER_THROTTLE": minAfterThrottle.String(),
	}})
	ws := sys.newWorkspace(t)
	type tc struct {
		name    string
		e       *endpoint
		code    int
		atLeast func(first received) time.Duration
		below   time.Duration
	}
	cases := []tc{
		{"retry_after_seconds", seconds, 429, func(received) time.Duration { return 2 * time.Second }, scheduleCap + 2*time.Second},
		{"retry_after_http_date", date, 503, func(r received) time.Duration { return dateOf(r).Sub(r.At) }, scheduleCap + 2*time.Second},
		{"retry_after_capped", capped, 429, func(received) time.Duration { return scheduleCap }, 10 * time.Second},
		{"throttled_without_retry_after", bare, 429, func(received) time.Duration { return minAfterThrottle }, 3 * time.Second},
	}
	hooks := map[string]webhook{}
	for _, c := range cases {
		hooks[c.name] = ws.createWebhook(t, map[string]any{"url": c.e.url("/" + c.name), "events": []string{"post.created"}})
	}
	a := ws.postEvent(t, "post.created", testenv.EventData(t, "post.created", map[string]any{"case": "retry-after"}))
	if a.Deliveries != len(cases) {
		t.Fatalf("event answered %d deliveries, want %d", a.Deliveries, len(cases))
	}

	// The retry waits on the retries queue as task "<delivery id>:2".
	firstReq := seconds.waitRequests(t, sys, 1)[0]
	opt, err := asynq.ParseRedisURI(sys.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspector(opt)
	defer insp.Close()
	retryID := firstReq.delivery() + ":2"
	sys.waitFor(t, "the retry task on the retries queue", func() (bool, string) {
		if seconds.count() > 1 {
			t.Errorf("retry ran before its task %s was seen on the retries queue", retryID)
			return true, ""
		}
		info, err := insp.GetTaskInfo("retries", retryID)
		if err != nil {
			return false, err.Error()
		}
		// It waits out its Retry-After (2 s) as a scheduled task; the
		// request count above rules out it having run already.
		if info.State != asynq.TaskStateScheduled {
			t.Errorf("retry task %s is %s, want scheduled until its Retry-After has passed", retryID, info.State)
		}
		return true, ""
	})

	// When the worker stored the next attempt as due, read while it waits.
	due := map[string]time.Time{}
	for _, c := range cases {
		id := c.e.waitRequests(t, sys, 1)[0].delivery()
		sys.waitFor(t, "the first attempt of "+c.name+" to be recorded", func() (bool, string) {
			d := ws.delivery(t, id)
			if d.AttemptCount == 1 && d.Status == "pending" && d.NextAttemptAt != nil {
				due[c.name] = *d.NextAttemptAt
			}
			return d.AttemptCount >= 1, fmt.Sprintf("%d attempts", d.AttemptCount)
		})
	}

	for _, c := range cases {
		reqs := c.e.waitRequests(t, sys, 2)
		if at, ok := due[c.name]; ok {
			t.Logf("FIGURE %s_stored_wait_ms=%d second_request_minus_next_attempt_at_ms=%d",
				c.name, at.Sub(reqs[0].At).Milliseconds(), reqs[1].At.Sub(at).Milliseconds())
		}
		d := ws.waitFinished(t, reqs[0].delivery())
		gap := reqs[1].At.Sub(reqs[0].At)
		want := c.atLeast(reqs[0])
		t.Logf("FIGURE %s_gap_ms=%d want_at_least_ms=%d", c.name, gap.Milliseconds(), want.Milliseconds())
		if gap < want {
			t.Errorf("%s: second request %v after the first, want at least %v", c.name, gap.Round(time.Millisecond), want.Round(time.Millisecond))
		}
		if gap >= c.below {
			t.Errorf("%s: second request %v after the first, want below %v", c.name, gap.Round(time.Millisecond), c.below)
		}
		type outcome struct {
			Status   string
			Codes    []int
			Requests int
		}
		var codes []int
		for _, at := range d.Attempts {
			code := -1 // no status
			if at.StatusCode != nil {
				code = *at.StatusCode
			}
			codes = append(codes, code)
		}
		if diff := cmp.Diff(outcome{"succeeded", []int{c.code, 200}, 2}, outcome{d.Status, codes, len(c.e.requests())}); diff != "" {
			t.Errorf("%s: delivery mismatch (-want +got):\n%s", c.name, diff)
		}
		checkSameDelivery(t, reqs, hooks[c.name].Secret)
	}

	// A success shows in the webhook's health.
	h := ws.health(t, hooks["retry_after_seconds"].ID)
	if h.LastSuccessAt == nil || h.LastFailureAt == nil || h.SuccessRate24h == nil || *h.SuccessRate24h <= 0 || h.ConsecutiveFailures != 0 || h.FailureCount != 1 {
		t.Errorf("webhook health after 429 then 200: %+v (rate %v), want last_success_at and last_failure_at set, success_rate_24h > 0, consecutive_failures 0, failure_count 1",
			h, deref(h.SuccessRate24h))
	}
}

func TestGoneDisablesWebhook(t *testing.T) {
	t.Parallel()
	var healed atomic.Bool
	rcv := newEndpoint(t, func(received, int) answer {
		if healed.Load() {
			return answer{status: http.StatusOK, body: "back"}
		}
		return answer{status: http.StatusGone, body: "gone"}
	})
	sys := startSystem(t, options{})
	ws := sys.newWorkspace(t)
	wh := ws.createWebhook(t, map[string]any{"url": rcv.url("/gone"), "events": []string{"post.created"}})

	before := time.Now()
	ws.postEvent(t, "post.created", testenv.EventData(t, "post.created", map[string]any{"case": "gone"}))
	id := rcv.waitRequests(t, sys, 1)[0].delivery()
	d := ws.waitFinished(t, id)
	if diff := cmp.Diff([]attemptRow{{1, intp(410), "gone"}}, attemptRows(d.Attempts)); d.Status != "failed" || diff != "" {
		t.Errorf("delivery after a 410 is %s; attempts mismatch (-want +got):\n%s", d.Status, diff)
	}
	if n := rcv.count(); n != 1 {
		t.Errorf("receiver got %d requests, want exactly 1", n)
	}

	h := ws.health(t, wh.ID)
	type state struct {
		Active              bool
		DisabledReason      any
		DisabledAt          bool
		LastFailureAt       bool
		LastSuccessAt       bool
		SuccessRate24h      any
		FailureCount        int
		ConsecutiveFailures int
	}
	view := func(h webhookHealth) state {
		return state{h.Active, deref(h.DisabledReason), h.DisabledAt != nil, h.LastFailureAt != nil,
			h.LastSuccessAt != nil, deref(h.SuccessRate24h), h.FailureCount, h.ConsecutiveFailures}
	}
	if diff := cmp.Diff(state{false, "gone", true, true, false, 0.0, 1, 1}, view(h)); diff != "" {
		t.Errorf("webhook after a 410 mismatch (-want +got):\n%s", diff)
	}
	if h.DisabledAt != nil && (h.DisabledAt.Before(before.Add(-time.Second)) || h.DisabledAt.After(time.Now().Add(time.Second))) {
		t.Errorf("disabled_at %s is not when the 410 came", h.DisabledAt)
	}

	if a := ws.postEvent(t, "post.created", testenv.EventData(t, "post.created", map[string]any{"case": "after gone"})); a.Deliveries != 0 {
		t.Errorf("event for a gone webhook: %d deliveries, want 0", a.Deliveries)
	}

	// Re-enabling answers the webhook and an offer to recover the streak.
	healed.Store(true)
	var patched struct {
		webhookHealth
		Recovery *struct {
			Since            time.Time `json:"since"`
			Until            time.Time `json:"until"`
			FailedDeliveries int       `json:"failed_deliveries"`
		} `json:"recovery"`
	}
	patchedAt := time.Now()
	ws.call(t, "PATCH", "/v1/webhooks/"+wh.ID, map[string]any{"active": true}, http.StatusOK, &patched)
	if !patched.Active || patched.DisabledReason != nil || patched.DisabledAt != nil || patched.ConsecutiveFailures != 0 {
		t.Errorf("PATCH {\"active\": true} answered active=%v disabled_reason=%v disabled_at=%v consecutive_failures=%d, want true, null, null, 0",
			patched.Active, deref(patched.DisabledReason), deref(patched.DisabledAt), patched.ConsecutiveFailures)
	}
	switch r := patched.Recovery; {
	case r == nil:
		t.Errorf("PATCH {\"active\": true} answered no recovery offer")
	default:
		t.Logf("recovery offer: since %s until %s failed_deliveries %d (delivery created %s)",
			r.Since.Format(time.RFC3339Nano), r.Until.Format(time.RFC3339Nano), r.FailedDeliveries, d.CreatedAt.Format(time.RFC3339Nano))
		if r.FailedDeliveries != 1 {
			t.Errorf("recovery offer counts %d failed deliveries, want 1 (the delivery the 410 failed, created %s; offer window [%s, %s))",
				r.FailedDeliveries, d.CreatedAt.Format(time.RFC3339Nano), r.Since.Format(time.RFC3339Nano), r.Until.Format(time.RFC3339Nano))
		}
		if r.Until.Before(patchedAt.Add(-time.Second)) || r.Until.After(time.Now().Add(time.Second)) {
			t.Errorf("recovery offer until %s is not now", r.Until)
		}
		// The offer is ready for POST /recover: the same window, dry run.
		var dry struct {
			Deliveries int  `json:"deliveries"`
			DryRun     bool `json:"dry_run"`
		}
		ws.call(t, "POST", "/v1/webhooks/"+wh.ID+"/recover?dry_run=true",
			map[string]any{"since": r.Since.Format(time.RFC3339Nano), "until": r.Until.Format(time.RFC3339Nano)}, http.StatusOK, &dry)
		if dry.Deliveries != r.FailedDeliveries || !dry.DryRun {
			t.Errorf("dry-run recover of the offered window answered %+v, want %d deliveries", dry, r.FailedDeliveries)
		}
	}

	// Recover the gone delivery: it succeeds now, which shows in the health.
	var rec struct {
		Deliveries int  `json:"deliveries"`
		DryRun     bool `json:"dry_run"`
	}
	ws.call(t, "POST", "/v1/webhooks/"+wh.ID+"/recover",
		map[string]any{"since": before.Add(-time.Minute).Format(time.RFC3339Nano)}, http.StatusAccepted, &rec)
	if rec.Deliveries != 1 || rec.DryRun {
		t.Errorf("recover answered %+v, want 1 delivery, not a dry run", rec)
	}
	reqs := rcv.waitRequests(t, sys, 2)
	ws.waitFinished(t, reqs[1].delivery())
	h = ws.health(t, wh.ID)
	if diff := cmp.Diff(state{true, nil, false, true, true, 0.5, 1, 0}, view(h)); diff != "" {
		t.Errorf("webhook after a recovered success mismatch (-want +got):\n%s", diff)
	}
	t.Logf("FIGURE gone_requests=%d", rcv.count())
}

// percentile returns the q-quantile (nearest rank) of ds.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// TestInFlightCapKeepsHealthyLatency is not parallel: it measures latency,
// so no other test of this package (the browser's above all) may compete for
// the CPU while it runs.
func TestInFlightCapKeepsHealthyLatency(t *testing.T) {
	const (
		healthyCount = 5
		events       = 40
		pace         = 25 * time.Millisecond
		maxInFlight  = 2
		timeout      = 3 * time.Second
	)
	// arrivals[i] maps an event id to when healthy endpoint i received it.
	arrivals := make([]map[string]time.Time, healthyCount)
	var healthy []*endpoint
	for i := range healthyCount {
		arrivals[i] = map[string]time.Time{}
		e := newEndpoint(t, func(r received, _ int) answer {
			var b struct {
				ID string `json:"id"`
			}
			json.Unmarshal(r.Body, &b)
			arrivals[i][b.ID] = r.At // under e.mu
			return answer{status: http.StatusOK, body: "ok"}
		})
		healthy = append(healthy, e)
	}
	bad := newEndpoint(t, func(received, int) answer { return answer{hang: true} })

	sys := startSystem(t, options{retrySchedule: "10s", env: map[string]string{
		"WORKER_CONCURRENCY":    "10",
		"WEBHOOK_MAX_IN_FLIGHT": fmt.Sprint(maxInFlight),
		"DELIVERY_TIMEOUT":      timeout.String(),
	}})
	ws := sys.newWorkspace(t)
	for i, e := range healthy {
		ws.createWebhook(t, map[string]any{"url": e.url(fmt.Sprintf("/healthy-%d", i)), "events": []string{"comment.created"}})
	}

	// phase posts the events at a steady pace and returns every healthy
	// delivery's latency: receive time minus when POST /v1/events returned.
	phase := func(name string, wantDeliveries int) []time.Duration {
		posted := map[string]time.Time{}
		start := time.Now()
		for i := range events {
			time.Sleep(time.Until(start.Add(time.Duration(i) * pace)))
			a := ws.postEvent(t, "comment.created", testenv.EventData(t, "comment.created", map[string]any{"case": fmt.Sprintf("%s_%d", name, i)}))
			posted[a.ID] = time.Now()
			if a.Deliveries != wantDeliveries {
				t.Fatalf("%s: event %d answered %d deliveries, want %d", name, i, a.Deliveries, wantDeliveries)
			}
		}
		var lat []time.Duration
		sys.waitFor(t, name+": every healthy delivery", func() (bool, string) {
			lat = lat[:0]
			for i, e := range healthy {
				e.mu.Lock()
				for id, postedAt := range posted {
					if at, ok := arrivals[i][id]; ok {
						lat = append(lat, at.Sub(postedAt))
					}
				}
				e.mu.Unlock()
			}
			return len(lat) == healthyCount*events, fmt.Sprintf("%d of %d", len(lat), healthyCount*events)
		})
		return lat
	}

	latA := phase("phase_a", healthyCount)
	badHook := ws.createWebhook(t, map[string]any{"url": bad.url("/hangs"), "events": []string{"comment.created"}})
	badBefore := bad.count()
	latB := phase("phase_b", healthyCount+1)

	p50A, p99A := percentile(latA, 0.5), percentile(latA, 0.99)
	p50B, p99B := percentile(latB, 0.5), percentile(latB, 0.99)
	t.Logf("FIGURE inflight_phase_a_p50_ms=%d inflight_phase_a_p99_ms=%d inflight_phase_a_max_ms=%d",
		p50A.Milliseconds(), p99A.Milliseconds(), percentile(latA, 1).Milliseconds())
	t.Logf("FIGURE inflight_phase_b_p50_ms=%d inflight_phase_b_p99_ms=%d inflight_phase_b_max_ms=%d",
		p50B.Milliseconds(), p99B.Milliseconds(), percentile(latB, 1).Milliseconds())
	t.Logf("FIGURE inflight_p99_ratio_b_over_a=%.2f", float64(p99B)/float64(max(p99A, time.Millisecond)))
	if p99B >= 1500*time.Millisecond {
		t.Errorf("with a hanging webhook, healthy p99 latency is %v, want below 1.5s", p99B)
	}

	// The hanging endpoint was reached and never held more than the cap.
	bad.waitRequests(t, sys, badBefore+1)
	peak := bad.peakInFlight()
	t.Logf("FIGURE inflight_bad_peak_concurrent=%d cap=%d bad_requests=%d", peak, maxInFlight, bad.count())
	if peak > maxInFlight {
		t.Errorf("the hanging endpoint held %d requests at once, want at most %d", peak, maxInFlight)
	}

	// Waiting for a slot is not an attempt: once the bad webhook is switched
	// off and its last attempts have timed out and been recorded, its
	// deliveries record exactly the requests its endpoint got.
	ws.call(t, "PATCH", "/v1/webhooks/"+badHook.ID, map[string]any{"active": false}, http.StatusOK, nil)
	sys.waitFor(t, "every request to the hanging endpoint recorded as one attempt", func() (bool, string) {
		recorded := 0
		for _, d := range ws.rows(t, badHook.ID) {
			recorded += d.Attempts
		}
		got := bad.count()
		return recorded == got, fmt.Sprintf("%d attempts recorded, %d requests received", recorded, got)
	})
}

func TestBreakerProbesDeadEndpoint(t *testing.T) {
	t.Parallel()
	dead := newEndpoint(t, func(received, int) answer { return answer{status: http.StatusInternalServerError, body: "dead"} })
	const (
		events   = 20
		probes   = 4
		interval = time.Second
		attempts = 11 // 10 schedule entries + 1
	)
	sys := startSystem(t, options{
		retrySchedule: "100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms",
		env: map[string]string{
			"BREAKER_THRESHOLD":      "3",
			"BREAKER_PROBE_INTERVAL": interval.String(),
		},
	})
	ws := sys.newWorkspace(t)
	wh := ws.createWebhook(t, map[string]any{"url": dead.url("/dead"), "events": []string{"csat.submitted"}})
	for i := range events {
		ws.postEvent(t, "csat.submitted", testenv.EventData(t, "csat.submitted", map[string]any{"id": fmt.Sprintf("csat_%d", i)}))
	}

	// The breaker opens after 3 consecutive failures; deliveries already
	// past the check finish their attempt. The window starts once the
	// endpoint has been quiet for 300 ms (probes come once a second).
	dead.waitRequests(t, sys, 3)
	sys.waitFor(t, "3 consecutive failures", func() (bool, string) {
		h := ws.health(t, wh.ID)
		return h.ConsecutiveFailures >= 3, fmt.Sprintf("%d consecutive failures", h.ConsecutiveFailures)
	})
	sys.waitFor(t, "the first burst to end", func() (bool, string) {
		reqs := dead.requests()
		quiet := time.Since(reqs[len(reqs)-1].At)
		return quiet >= 300*time.Millisecond, fmt.Sprintf("last request %v ago", quiet)
	})
	burst := dead.count()

	// With the breaker open only probes arrive: wait for a few of them (no
	// fixed sleep) and check their spacing. At most one per interval; at
	// least one per interval plus the scheduling lag: asynq keeps due
	// times in whole seconds (up to 1 s of rounding) and forwards them
	// every 250 ms.
	sys.waitFor(t, fmt.Sprintf("%d probes after the burst", probes), func() (bool, string) {
		n := dead.count() - burst
		return n >= probes, fmt.Sprintf("%d probes", n)
	})
	reqs := dead.requests()[burst-1 : burst+probes]
	most := interval + time.Second + 250*time.Millisecond
	for i := 1; i < len(reqs); i++ {
		gap := reqs[i].At.Sub(reqs[i-1].At)
		t.Logf("FIGURE breaker_probe_gap_%d_ms=%d", i, gap.Milliseconds())
		// The first gap starts at the burst's last request, not a probe.
		if i > 1 && gap < interval-100*time.Millisecond {
			t.Errorf("probe %d came %v after the one before, want at most one per %v", i, gap.Round(time.Millisecond), interval)
		}
		if gap > most {
			t.Errorf("probe %d came %v after the request before, want at most %v (probes continue)", i, gap.Round(time.Millisecond), most)
		}
	}
	// Without the breaker the same time would have seen every delivery
	// retried ten times a second.
	span := reqs[len(reqs)-1].At.Sub(reqs[0].At)
	storm := events * int(span/(100*time.Millisecond))
	t.Logf("FIGURE breaker_burst_requests=%d", burst)
	t.Logf("FIGURE breaker_requests_in_%s=%d without_breaker_about=%d (%d deliveries x 10 attempts/s)", span.Round(time.Millisecond), probes, storm, events)

	// Breaker waits are not attempts: every delivery's attempts are exactly
	// the requests the endpoint got for it, numbered 1..n, all 500.
	var hist []deliveryRow
	sys.waitFor(t, "recorded attempts to match the requests", func() (bool, string) {
		perDelivery := map[string]int{}
		for _, r := range dead.requests() {
			perDelivery[r.delivery()]++
		}
		hist = ws.rows(t, wh.ID)
		recorded := map[string]int{}
		for _, d := range hist {
			if d.Attempts > 0 {
				recorded[d.ID] = d.Attempts
			}
		}
		diff := cmp.Diff(perDelivery, recorded)
		return diff == "", "requests vs recorded attempts (-requests +recorded):\n" + diff
	})
	if len(hist) != events {
		t.Errorf("history has %d deliveries, want %d", len(hist), events)
	}
	total := 0
	for _, row := range hist {
		d := ws.delivery(t, row.ID)
		total += len(d.Attempts)
		for i, a := range d.Attempts {
			if a.Attempt != i+1 || deref(a.StatusCode) != any(500) {
				t.Errorf("delivery %s attempt %d: number %d status %v, want %d and 500", d.ID, i+1, a.Attempt, deref(a.StatusCode), i+1)
			}
		}
		if d.AttemptCount != len(d.Attempts) || d.AttemptCount > attempts {
			t.Errorf("delivery %s: attempt_count %d, %d attempts listed", d.ID, d.AttemptCount, len(d.Attempts))
		}
	}
	t.Logf("FIGURE breaker_recorded_attempts=%d endpoint_requests=%d", total, dead.count())
}

func TestRecoverResendsFailed(t *testing.T) {
	t.Parallel()
	var up atomic.Bool
	rcv := newEndpoint(t, func(received, int) answer {
		if up.Load() {
			return answer{status: http.StatusOK, body: "ok"}
		}
		return answer{status: http.StatusInternalServerError, body: "down"}
	})
	sys := startSystem(t, options{retrySchedule: "100ms"})
	ws := sys.newWorkspace(t)
	wh := ws.createWebhook(t, map[string]any{"url": rcv.url("/recover"), "events": []string{"post.status_changed"}})
	recoverPath := "/v1/webhooks/" + wh.ID + "/recover"

	var failedIDs []string // oldest first
	post := func(i int) {
		ws.postEvent(t, "post.status_changed", testenv.EventData(t, "post.status_changed", map[string]any{"case": i}))
	}
	post(1)
	post(2)
	ws.waitHistory(t, wh.ID, 2)
	mid := time.Now() // between the second and the third delivery
	post(3)
	for _, d := range ws.waitHistory(t, wh.ID, 3) {
		if d.Status != "failed" || d.Attempts != 2 {
			t.Fatalf("delivery %s is %s after %d attempts, want failed after 2", d.ID, d.Status, d.Attempts)
		}
		failedIDs = append([]string{d.ID}, failedIDs...)
	}
	bodies := map[string][]byte{} // delivery id -> body sent
	for _, r := range rcv.requests() {
		bodies[r.delivery()] = r.Body
	}
	up.Store(true)

	type result struct {
		Deliveries int  `json:"deliveries"`
		DryRun     bool `json:"dry_run"`
	}
	rfc := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	hourAgo := rfc(time.Now().Add(-time.Hour))

	// Dry runs count and create nothing.
	var dry result
	ws.call(t, "POST", recoverPath+"?dry_run=true", map[string]any{"since": hourAgo}, http.StatusOK, &dry)
	if diff := cmp.Diff(result{3, true}, dry); diff != "" {
		t.Errorf("dry run since an hour ago mismatch (-want +got):\n%s", diff)
	}
	ws.call(t, "POST", recoverPath+"?dry_run=true", map[string]any{"since": hourAgo, "until": rfc(mid)}, http.StatusOK, &dry)
	if diff := cmp.Diff(result{2, true}, dry); diff != "" {
		t.Errorf("dry run until the middle mismatch (-want +got):\n%s", diff)
	}
	if n := len(ws.rows(t, wh.ID)); n != 3 {
		t.Errorf("history has %d deliveries after dry runs, want 3", n)
	}

	// Bad windows.
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"since": rfc(time.Now().Add(-15 * 24 * time.Hour))}, "since"},
		{map[string]any{"since": rfc(mid), "until": rfc(mid)}, "until"},
		{map[string]any{"since": rfc(mid), "until": rfc(mid.Add(-time.Minute))}, "until"},
	} {
		status, body := ws.do(t, "POST", recoverPath, c.body)
		var e apiError
		json.Unmarshal(body, &e)
		if status != http.StatusUnprocessableEntity || e.Error.Field != c.field {
			t.Errorf("recover %v: %d %s, want 422 naming %q", c.body, status, body, c.field)
		}
	}

	// The window from the middle holds the third delivery only.
	var res result
	ws.call(t, "POST", recoverPath, map[string]any{"since": rfc(mid)}, http.StatusAccepted, &res)
	if diff := cmp.Diff(result{1, false}, res); diff != "" {
		t.Errorf("recover since the middle mismatch (-want +got):\n%s", diff)
	}
	ws.waitHistory(t, wh.ID, 4)
	checkRedelivery := func(d deliveryRow, of string) {
		t.Helper()
		if d.Status != "succeeded" || deref(d.RedeliveryOf) != any(of) {
			t.Errorf("recovered delivery %s is %s, redelivery_of %v; want succeeded, redelivery_of %s", d.ID, d.Status, deref(d.RedeliveryOf), of)
		}
		var got []byte
		for _, r := range rcv.requests() {
			if r.delivery() == d.ID {
				got = r.Body
			}
		}
		if string(got) != string(bodies[of]) {
			t.Errorf("recovered delivery %s sent %s, want the original bytes %s", d.ID, got, bodies[of])
		}
	}
	rows := ws.rows(t, wh.ID)
	checkRedelivery(rows[0], failedIDs[2])

	// The contract re-sends every failed delivery created in the window:
	// the three originals are still failed (the third's redelivery is a
	// new delivery, outside the window's statuses as it succeeded), so all
	// three go again.
	ws.call(t, "POST", recoverPath, map[string]any{"since": hourAgo}, http.StatusAccepted, &res)
	if diff := cmp.Diff(result{3, false}, res); diff != "" {
		t.Errorf("recover since an hour ago mismatch (-want +got):\n%s", diff)
	}
	ws.waitHistory(t, wh.ID, 7)
	rows = ws.rows(t, wh.ID)
	var of []string
	for _, d := range rows[:3] {
		of = append(of, fmt.Sprint(deref(d.RedeliveryOf)))
	}
	slices.Sort(of)
	want := slices.Clone(failedIDs)
	slices.Sort(want)
	if diff := cmp.Diff(want, of); diff != "" {
		t.Errorf("second recovery redelivered (-want +got):\n%s", diff)
	}
	for _, d := range rows[:3] {
		if d.RedeliveryOf != nil {
			checkRedelivery(d, *d.RedeliveryOf)
		}
	}
	var after result
	ws.call(t, "POST", recoverPath+"?dry_run=true", map[string]any{"since": hourAgo}, http.StatusOK, &after)
	t.Logf("FIGURE recover_dry_run_after_two_recoveries=%d", after.Deliveries)
	t.Logf("FIGURE recover_requests_total=%d", rcv.count())
}

// testAnswer is the answer to POST /v1/webhooks/{id}/test.
type testAnswer struct {
	DeliveryID        string  `json:"delivery_id"`
	EventID           string  `json:"event_id"`
	Succeeded         bool    `json:"succeeded"`
	StatusCode        *int    `json:"status_code"`
	ResponseBody      string  `json:"response_body"`
	ResponseTruncated bool    `json:"response_truncated"`
	Error             *string `json:"error"`
	DurationMS        *int    `json:"duration_ms"`
}

func TestTestEventAnswersLiveResponse(t *testing.T) {
	t.Parallel()
	pong := newEndpoint(t, func(received, int) answer { return answer{status: http.StatusCreated, body: "pong"} })
	broken := newEndpoint(t, func(received, int) answer { return answer{status: http.StatusInternalServerError, body: "boom"} })
	stuck := newEndpoint(t, func(received, int) answer { return answer{hang: true} })
	const timeout = time.Second
	sys := startSystem(t, options{env: map[string]string{"DELIVERY_TIMEOUT": timeout.String()}})
	ws := sys.newWorkspace(t)
	good := ws.createWebhook(t, map[string]any{"url": pong.url("/pong"), "events": []string{"nps.submitted"}})
	bad := ws.createWebhook(t, map[string]any{"url": broken.url("/boom"), "events": []string{"nps.submitted"}})
	slow := ws.createWebhook(t, map[string]any{"url": stuck.url("/stuck"), "events": []string{"nps.submitted"}})

	var got testAnswer
	ws.call(t, "POST", "/v1/webhooks/"+good.ID+"/test", nil, http.StatusOK, &got)
	t.Logf("FIGURE test_event_duration_ms=%v", deref(got.DurationMS))
	if got.DeliveryID == "" || got.EventID == "" || got.DurationMS == nil {
		t.Errorf("POST /test answered %+v, want delivery_id, event_id and duration_ms", got)
	}
	type view struct {
		Succeeded    bool
		StatusCode   any
		ResponseBody string
		Truncated    bool
		Error        any
	}
	if diff := cmp.Diff(view{true, 201, "pong", false, nil},
		view{got.Succeeded, deref(got.StatusCode), got.ResponseBody, got.ResponseTruncated, deref(got.Error)}); diff != "" {
		t.Errorf("POST /test to a 201 endpoint mismatch (-want +got):\n%s", diff)
	}
	reqs := pong.requests()
	if len(reqs) != 1 {
		t.Fatalf("endpoint got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	var body struct {
		ID          string          `json:"id"`
		Type        string          `json:"type"`
		WorkspaceID string          `json:"workspace_id"`
		Data        json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("test event body is not JSON: %v\n%s", err, r.Body)
	}
	type head struct{ Event, Delivery, Signature, Type, ID, Workspace string }
	if diff := cmp.Diff(head{"webhook.test", got.DeliveryID, sign(good.Secret, r.Body), "webhook.test", got.EventID, ws.ID},
		head{r.Header.Get("X-Trackelio-Event"), r.delivery(), r.Header.Get("X-Trackelio-Signature"), body.Type, body.ID, body.WorkspaceID}); diff != "" {
		t.Errorf("test event request mismatch (-want +got):\n%s", diff)
	}
	if err := verifyStandard(t, good.Secret, r); err != nil {
		t.Errorf("standardwebhooks rejected the test event: %v", err)
	}
	hist := ws.rows(t, good.ID)
	if len(hist) != 1 || hist[0].ID != got.DeliveryID || hist[0].EventType != "webhook.test" || hist[0].Status != "succeeded" ||
		deref(hist[0].StatusCode) != any(201) {
		t.Errorf("history after the test: %+v, want the succeeded webhook.test delivery %s", hist, got.DeliveryID)
	}
	h := ws.health(t, good.ID)
	if h.LastSuccessAt == nil || h.SuccessRate24h == nil || *h.SuccessRate24h != 1 {
		t.Errorf("health after a successful test: last_success_at %v success_rate_24h %v, want set and 1", deref(h.LastSuccessAt), deref(h.SuccessRate24h))
	}
	// The test reached that webhook only.
	for _, other := range []webhook{bad, slow} {
		if n := len(ws.rows(t, other.ID)); n != 0 {
			t.Errorf("webhook %s got %d deliveries from another webhook's test", other.URL, n)
		}
	}

	ws.call(t, "POST", "/v1/webhooks/"+bad.ID+"/test", map[string]any{}, http.StatusOK, &got)
	if diff := cmp.Diff(view{false, 500, "boom", false, "receiver answered 500 Internal Server Error"},
		view{got.Succeeded, deref(got.StatusCode), got.ResponseBody, got.ResponseTruncated, deref(got.Error)}); diff != "" {
		t.Errorf("POST /test to a 500 endpoint mismatch (-want +got):\n%s", diff)
	}

	// A timeout is answered once DELIVERY_TIMEOUT has passed.
	start := time.Now()
	ws.call(t, "POST", "/v1/webhooks/"+slow.ID+"/test", nil, http.StatusOK, &got)
	took := time.Since(start)
	t.Logf("FIGURE test_event_timeout_answer_ms=%d delivery_timeout_ms=%d", took.Milliseconds(), timeout.Milliseconds())
	if got.Succeeded || got.StatusCode != nil || got.Error == nil || took < timeout || took > timeout+5*time.Second {
		t.Errorf("POST /test to a hanging endpoint answered %+v (error %v) after %v, want a failure without status and an error after about %v",
			got, deref(got.Error), took, timeout)
	}

	ws.call(t, "PATCH", "/v1/webhooks/"+bad.ID, map[string]any{"active": false}, http.StatusOK, nil)
	before := broken.count()
	status, answerBody := ws.do(t, "POST", "/v1/webhooks/"+bad.ID+"/test", nil)
	if status != http.StatusConflict {
		t.Errorf("POST /test to an inactive webhook: %d %s, want 409", status, answerBody)
	}
	if n := broken.count(); n != before {
		t.Errorf("inactive webhook's endpoint got %d requests from a refused test", n-before)
	}
}

// signatures returns the entries of a webhook-signature header.
func signatures(r received) []string { return strings.Fields(r.Header.Get("webhook-signature")) }

func TestSecretRotation(t *testing.T) {
	t.Parallel()
	rcv := newEndpoint(t, func(received, int) answer { return answer{status: http.StatusOK, body: "ok"} })
	sys := startSystem(t, options{})
	ws := sys.newWorkspace(t)
	wh := ws.createWebhook(t, map[string]any{"url": rcv.url("/rotate"), "events": []string{"post.assigned"}})
	s1 := wh.Secret
	rotatePath := "/v1/webhooks/" + wh.ID + "/rotate-secret"

	type rotated struct {
		Secret  string    `json:"secret"`
		Expires time.Time `json:"previous_secret_expires_at"`
	}
	rotate := func(in any) rotated {
		t.Helper()
		var out rotated
		start := time.Now()
		ws.call(t, "POST", rotatePath, in, http.StatusOK, &out)
		if out.Secret == "" {
			t.Fatalf("rotate-secret answered no secret")
		}
		sys.rememberSecret(out.Secret)
		t.Logf("rotated at %s; previous secret expires %s", start.Format(time.RFC3339), out.Expires.Format(time.RFC3339))
		return out
	}
	deliver := func(n int) received {
		t.Helper()
		ws.postEvent(t, "post.assigned", testenv.EventData(t, "post.assigned", map[string]any{"case": n}))
		return rcv.waitRequests(t, sys, n)[n-1]
	}
	type check struct {
		TrackelioWith string
		Entries       int
		StdVerifies   map[string]bool
	}
	inspect := func(r received, secrets map[string]string) check {
		t.Helper()
		c := check{Entries: len(signatures(r)), StdVerifies: map[string]bool{}}
		for name, s := range secrets {
			if r.Header.Get("X-Trackelio-Signature") == sign(s, r.Body) {
				c.TrackelioWith += name
			}
			c.StdVerifies[name] = verifyStandard(t, s, r) == nil
		}
		return c
	}

	r1 := deliver(1)
	if diff := cmp.Diff(check{"s1", 1, map[string]bool{"s1": true}}, inspect(r1, map[string]string{"s1": s1})); diff != "" {
		t.Errorf("delivery before rotation mismatch (-want +got):\n%s", diff)
	}

	for _, bad := range []any{
		map[string]any{"grace_period": "169h"},
		map[string]any{"grace_period": "-1s"},
		map[string]any{"grace_period": "a day"},
	} {
		status, body := ws.do(t, "POST", rotatePath, bad)
		var e apiError
		json.Unmarshal(body, &e)
		if status != http.StatusUnprocessableEntity || e.Error.Field != "grace_period" {
			t.Errorf("rotate-secret %v: %d %s, want 422 naming grace_period", bad, status, body)
		}
	}

	before := time.Now()
	rot := rotate(map[string]any{"grace_period": "1h"})
	s2 := rot.Secret
	if s2 == s1 {
		t.Fatalf("rotation returned the same secret")
	}
	if d := rot.Expires.Sub(before.Add(time.Hour)); d < -2*time.Second || d > 5*time.Second {
		t.Errorf("previous_secret_expires_at %s, want about an hour from now", rot.Expires)
	}
	var got struct {
		Secret string `json:"secret"`
	}
	ws.call(t, "GET", "/v1/webhooks/"+wh.ID+"/secret", nil, http.StatusOK, &got)
	if got.Secret != s2 {
		t.Errorf("GET secret after rotation is not the new secret")
	}

	r2 := deliver(2)
	if diff := cmp.Diff(check{"s2", 2, map[string]bool{"s1": true, "s2": true}},
		inspect(r2, map[string]string{"s1": s1, "s2": s2})); diff != "" {
		t.Errorf("delivery during the grace period mismatch (-want +got):\n%s", diff)
	}
	// The order is "v1,<new> v1,<old>".
	if sigs := signatures(r2); len(sigs) == 2 {
		var unix int64
		fmt.Sscan(r2.Header.Get("webhook-timestamp"), &unix)
		ts := time.Unix(unix, 0)
		for i, s := range []string{s2, s1} {
			w, _ := standardwebhooks.NewWebhook(s)
			want, _ := w.Sign(r2.Header.Get("webhook-id"), ts, r2.Body)
			if sigs[i] != want {
				t.Errorf("webhook-signature entry %d is not signed with the %s secret", i+1, []string{"new", "old"}[i])
			}
		}
	}

	rot = rotate(map[string]any{"grace_period": "0s"})
	s3 := rot.Secret
	r3 := deliver(3)
	if diff := cmp.Diff(check{"s3", 1, map[string]bool{"s1": false, "s2": false, "s3": true}},
		inspect(r3, map[string]string{"s1": s1, "s2": s2, "s3": s3})); diff != "" {
		t.Errorf("delivery after a rotation without grace mismatch (-want +got):\n%s", diff)
	}

	// Without a body the grace period is 24h.
	before = time.Now()
	rot = rotate(nil)
	if d := rot.Expires.Sub(before.Add(24 * time.Hour)); d < -2*time.Second || d > 5*time.Second {
		t.Errorf("default previous_secret_expires_at %s, want about 24h from now", rot.Expires)
	}
	r4 := deliver(4)
	if diff := cmp.Diff(check{"s4", 2, map[string]bool{"s3": true, "s4": true}},
		inspect(r4, map[string]string{"s3": s3, "s4": rot.Secret})); diff != "" {
		t.Errorf("delivery after a default rotation mismatch (-want +got):\n%s", diff)
	}
}

func TestStandardWebhooksAcceptsEveryDelivery(t *testing.T) {
	t.Parallel()
	// Every delivery fails once, then succeeds.
	rcv := newEndpoint(t, func(_ received, k int) answer {
		if k == 1 {
			return answer{status: http.StatusInternalServerError, body: "not yet"}
		}
		return answer{status: http.StatusOK, body: "ok"}
	})
	sys := startSystem(t, options{retrySchedule: "100ms,100ms"})
	ws := sys.newWorkspace(t)
	wh := ws.createWebhook(t, map[string]any{"url": rcv.url("/std"), "events": allTypes()})
	const n = 5
	types := allTypes()[:n]
	for _, typ := range types {
		ws.postEvent(t, typ, eventData[typ])
	}
	ws.waitHistory(t, wh.ID, n)
	reqs := rcv.requests()
	if len(reqs) != 2*n {
		t.Errorf("endpoint got %d requests, want %d (each delivery twice)", len(reqs), 2*n)
	}

	idsByEvent := map[string]map[string]bool{} // event id -> webhook-id values
	timestamps := map[string][]int64{}         // webhook-id -> timestamps in order
	for i, r := range reqs {
		if err := verifyStandard(t, wh.Secret, r); err != nil {
			t.Errorf("request %d: standardwebhooks rejected it: %v", i+1, err)
		}
		if got := r.Header.Get("X-Trackelio-Signature"); got != sign(wh.Secret, r.Body) {
			t.Errorf("request %d: bad X-Trackelio-Signature", i+1)
		}
		id := r.Header.Get("webhook-id")
		if id == "" || id != r.delivery() {
			t.Errorf("request %d: webhook-id %q, X-Trackelio-Delivery %q; want equal", i+1, id, r.delivery())
		}
		ev := eventID(t, r.Body)
		if idsByEvent[ev] == nil {
			idsByEvent[ev] = map[string]bool{}
		}
		idsByEvent[ev][id] = true
		var ts int64
		if _, err := fmt.Sscan(r.Header.Get("webhook-timestamp"), &ts); err != nil {
			t.Errorf("request %d: webhook-timestamp %q is not unix seconds", i+1, r.Header.Get("webhook-timestamp"))
		}
		if d := r.At.Unix() - ts; d < -1 || d > 1 {
			t.Errorf("request %d: webhook-timestamp %d is %ds away from when it arrived", i+1, ts, d)
		}
		timestamps[id] = append(timestamps[id], ts)
	}
	ids := map[string]bool{}
	for ev, set := range idsByEvent {
		if len(set) != 1 {
			t.Errorf("event %s came with %d different webhook-id values over its retries, want 1", ev, len(set))
		}
		for id := range set {
			ids[id] = true
		}
	}
	if len(ids) != n {
		t.Errorf("%d distinct webhook-id values, want %d", len(ids), n)
	}
	for id, ts := range timestamps {
		if !slices.IsSorted(ts) {
			t.Errorf("delivery %s: webhook-timestamp goes back between attempts: %v", id, ts)
		}
	}
	// A body changed after signing is rejected.
	if len(reqs) > 0 {
		tampered := reqs[0]
		tampered.Body = append(slices.Clone(tampered.Body[:len(tampered.Body)-1]), []byte(`,"x":1}`)...)
		if verifyStandard(t, wh.Secret, tampered) == nil {
			t.Errorf("standardwebhooks accepted a tampered body")
		}
	}
	t.Logf("FIGURE standard_webhooks_verified_requests=%d", len(reqs))
}
