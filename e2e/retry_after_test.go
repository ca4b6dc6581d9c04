package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/queuetest"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testreceiver"
)

func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	// One endpoint per way of pushing back; each answers the first request
	// of a delivery with it and the second with 200.
	first := func(a testreceiver.Answer) testreceiver.Reply {
		return func(_ testreceiver.Received, _, k int) testreceiver.Answer {
			if k == 1 {
				return a
			}
			return testreceiver.Answer{Status: http.StatusOK, Body: "ok"}
		}
	}
	seconds := newReceiver(t, first(testreceiver.Answer{Status: http.StatusTooManyRequests, Body: "slow down",
		Header: map[string]string{"Retry-After": "2"}}))
	// The HTTP date is computed from the receive time, 2 to 3 s ahead
	// (the format has whole seconds).
	dateOf := func(r testreceiver.Received) time.Time { return r.At.Add(3 * time.Second).Truncate(time.Second) }
	date := newReceiver(t, func(r testreceiver.Received, _, k int) testreceiver.Answer {
		if k == 1 {
			return testreceiver.Answer{Status: http.StatusServiceUnavailable, Body: "maintenance",
				Header: map[string]string{"Retry-After": dateOf(r).UTC().Format(http.TimeFormat)}}
		}
		return testreceiver.Answer{Status: http.StatusOK, Body: "ok"}
	})
	capped := newReceiver(t, first(testreceiver.Answer{Status: http.StatusTooManyRequests, Body: "slow down",
		Header: map[string]string{"Retry-After": "30"}}))
	bare := newReceiver(t, first(testreceiver.Answer{Status: http.StatusTooManyRequests, Body: "slow down"}))

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
		e       *receiver
		code    int
		atLeast func(first testreceiver.Received) time.Duration
		below   time.Duration
	}
	cases := []tc{
		{"retry_after_seconds", seconds, 429, func(testreceiver.Received) time.Duration { return 2 * time.Second }, scheduleCap + 2*time.Second},
		{"retry_after_http_date", date, 503, func(r testreceiver.Received) time.Duration { return dateOf(r).Sub(r.At) }, scheduleCap + 2*time.Second},
		{"retry_after_capped", capped, 429, func(testreceiver.Received) time.Duration { return scheduleCap }, 10 * time.Second},
		{"throttled_without_retry_after", bare, 429, func(testreceiver.Received) time.Duration { return minAfterThrottle }, 3 * time.Second},
	}
	hooks := map[string]client.Webhook{}
	for _, c := range cases {
		hooks[c.name] = ws.createWebhook(t, map[string]any{"url": c.e.URL("/" + c.name), "events": []string{"post.created"}})
	}
	a := ws.postEvent(t, "post.created", testfactory.EventData(t, "post.created", map[string]any{"case": "retry-after"}))
	if a.Deliveries != len(cases) {
		t.Fatalf("event answered %d deliveries, want %d", a.Deliveries, len(cases))
	}

	// The retry waits on the retries queue as task "<delivery id>:2".
	firstReq := seconds.waitRequests(t, sys, 1)[0]
	insp := queuetest.NewInspector(t, queuetest.RedisOpt(t, sys.redisURL))
	retryID := firstReq.Delivery() + ":2"
	sys.waitFor(t, "the retry task on the retries queue", func() (bool, string) {
		if seconds.Count() > 1 {
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
		id := c.e.waitRequests(t, sys, 1)[0].Delivery()
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
		d := ws.waitFinished(t, reqs[0].Delivery())
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
			Status   client.DeliveryStatus
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
		if diff := cmp.Diff(outcome{"succeeded", []int{c.code, 200}, 2}, outcome{d.Status, codes, len(c.e.Requests())}); diff != "" {
			t.Errorf("%s: delivery mismatch (-want +got):\n%s", c.name, diff)
		}
		checkSameDelivery(t, reqs, hooks[c.name].Secret)
	}

	// A success shows in the webhook's health.
	h := ws.webhook(t, hooks["retry_after_seconds"].ID)
	if h.LastSuccessAt == nil || h.LastFailureAt == nil || h.SuccessRate24h == nil || *h.SuccessRate24h <= 0 || h.ConsecutiveFailures != 0 || h.FailureCount != 1 {
		t.Errorf("webhook health after 429 then 200: %+v (rate %v), want last_success_at and last_failure_at set, success_rate_24h > 0, consecutive_failures 0, failure_count 1",
			h, deref(h.SuccessRate24h))
	}
}
