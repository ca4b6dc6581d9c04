package delivery_test

import (
	"testing"
	"time"

	"github.com/trackelio/webhooks/internal/delivery"
)

const eventType = "post.created"

func TestDecide(t *testing.T) {
	t.Parallel()
	p := delivery.RetryPolicy{Schedule: []time.Duration{10 * time.Second, time.Minute, time.Hour}, MinAfterThrottle: 5 * time.Minute}
	http := func(code int) delivery.Response {
		return delivery.Response{Outcome: delivery.HTTPError, StatusCode: code}
	}
	tests := []struct {
		name string
		res  delivery.Response
		n    int
		want delivery.Decision
	}{
		{"2xx succeeds", delivery.Response{Outcome: delivery.Success, StatusCode: 204}, 1, delivery.Decision{Status: delivery.StatusSucceeded}},
		{"2xx on the last attempt succeeds", delivery.Response{Outcome: delivery.Success, StatusCode: 200}, 4, delivery.Decision{Status: delivery.StatusSucceeded}},
		{"500 retries after the schedule's delay", http(500), 1, delivery.Decision{Status: delivery.StatusPending, Delay: 10 * time.Second, Congested: true}},
		{"the second failure waits the second delay", http(404), 2, delivery.Decision{Status: delivery.StatusPending, Delay: time.Minute}},
		{"the last attempt fails for good", http(500), 4, delivery.Decision{Status: delivery.StatusFailed, Congested: true}},
		{"410 is gone at once, whatever the attempt", http(410), 1, delivery.Decision{Status: delivery.StatusFailed, DisableReason: "gone"}},
		{"429 waits at least the throttle minimum", http(429), 1, delivery.Decision{Status: delivery.StatusPending, Delay: 5 * time.Minute, Congested: true}},
		{"a timeout too", delivery.Response{Outcome: delivery.Timeout}, 1, delivery.Decision{Status: delivery.StatusPending, Delay: 5 * time.Minute, Congested: true}},
		{"503's Retry-After is honoured up to the cap", delivery.Response{Outcome: delivery.HTTPError, StatusCode: 503, RetryAfter: 30 * time.Minute}, 1,
			delivery.Decision{Status: delivery.StatusPending, Delay: 30 * time.Minute, Congested: true}},
		{"but not beyond it", delivery.Response{Outcome: delivery.HTTPError, StatusCode: 503, RetryAfter: 48 * time.Hour}, 1,
			delivery.Decision{Status: delivery.StatusPending, Delay: time.Hour, Congested: true}},
		{"a refused connection is congestion", delivery.Response{Outcome: delivery.ConnectionError}, 1, delivery.Decision{Status: delivery.StatusPending, Delay: 10 * time.Second, Congested: true}},
		{"a blocked destination is not", delivery.Response{Outcome: delivery.Blocked}, 1, delivery.Decision{Status: delivery.StatusPending, Delay: 10 * time.Second}},
		{"a redirect is a plain failure", http(302), 1, delivery.Decision{Status: delivery.StatusPending, Delay: 10 * time.Second}},
	}
	for _, tt := range tests {
		if got := delivery.Decide(tt.res, tt.n, eventType, p); got != tt.want {
			t.Errorf("%s: Decide = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// A test event is one question to the endpoint: it is never retried on the
// schedule and never disables the webhook, whatever the answer.
func TestDecideTestEvent(t *testing.T) {
	t.Parallel()
	p := delivery.RetryPolicy{Schedule: []time.Duration{10 * time.Second, time.Minute, time.Hour}, MinAfterThrottle: 5 * time.Minute}
	tests := []struct {
		name string
		res  delivery.Response
		want delivery.Decision
	}{
		{"2xx succeeds", delivery.Response{Outcome: delivery.Success, StatusCode: 200}, delivery.Decision{Status: delivery.StatusSucceeded}},
		{"500 fails without a retry", delivery.Response{Outcome: delivery.HTTPError, StatusCode: 500}, delivery.Decision{Status: delivery.StatusFailed, Congested: true}},
		{"429 too", delivery.Response{Outcome: delivery.HTTPError, StatusCode: 429, RetryAfter: time.Minute}, delivery.Decision{Status: delivery.StatusFailed, Congested: true}},
		{"a timeout too", delivery.Response{Outcome: delivery.Timeout}, delivery.Decision{Status: delivery.StatusFailed, Congested: true}},
		{"410 does not disable", delivery.Response{Outcome: delivery.HTTPError, StatusCode: 410}, delivery.Decision{Status: delivery.StatusFailed}},
	}
	for _, tt := range tests {
		tt.want.ExcludeFromHealth = true
		if got := delivery.Decide(tt.res, 1, delivery.TestEventType, p); got != tt.want {
			t.Errorf("%s: Decide = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
