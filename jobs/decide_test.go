package jobs

import (
	"testing"
	"time"

	"github.com/trackelio/webhooks/catalog"
	"github.com/trackelio/webhooks/repo"
	"github.com/trackelio/webhooks/sender"
)

const eventType = "post.created"

func TestDecide(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{Schedule: []time.Duration{10 * time.Second, time.Minute, time.Hour}, MinAfterThrottle: 5 * time.Minute}
	http := func(code int) sender.Result { return sender.Result{Outcome: sender.HTTPError, StatusCode: code} }
	tests := []struct {
		name string
		res  sender.Result
		n    int
		want Decision
	}{
		{"2xx succeeds", sender.Result{Outcome: sender.Success, StatusCode: 204}, 1, Decision{Status: repo.StatusSucceeded}},
		{"2xx on the last attempt succeeds", sender.Result{Outcome: sender.Success, StatusCode: 200}, 4, Decision{Status: repo.StatusSucceeded}},
		{"500 retries after the schedule's delay", http(500), 1, Decision{Status: repo.StatusPending, Delay: 10 * time.Second, Congested: true}},
		{"the second failure waits the second delay", http(404), 2, Decision{Status: repo.StatusPending, Delay: time.Minute}},
		{"the last attempt fails for good", http(500), 4, Decision{Status: repo.StatusFailed, Congested: true}},
		{"410 is gone at once, whatever the attempt", http(410), 1, Decision{Status: repo.StatusFailed, DisableReason: "gone"}},
		{"429 waits at least the throttle minimum", http(429), 1, Decision{Status: repo.StatusPending, Delay: 5 * time.Minute, Congested: true}},
		{"a timeout too", sender.Result{Outcome: sender.Timeout}, 1, Decision{Status: repo.StatusPending, Delay: 5 * time.Minute, Congested: true}},
		{"503's Retry-After is honoured up to the cap", sender.Result{Outcome: sender.HTTPError, StatusCode: 503, RetryAfter: 30 * time.Minute}, 1,
			Decision{Status: repo.StatusPending, Delay: 30 * time.Minute, Congested: true}},
		{"but not beyond it", sender.Result{Outcome: sender.HTTPError, StatusCode: 503, RetryAfter: 48 * time.Hour}, 1,
			Decision{Status: repo.StatusPending, Delay: time.Hour, Congested: true}},
		{"a refused connection is congestion", sender.Result{Outcome: sender.ConnectionError}, 1, Decision{Status: repo.StatusPending, Delay: 10 * time.Second, Congested: true}},
		{"a blocked destination is not", sender.Result{Outcome: sender.Blocked}, 1, Decision{Status: repo.StatusPending, Delay: 10 * time.Second}},
		{"a redirect is a plain failure", http(302), 1, Decision{Status: repo.StatusPending, Delay: 10 * time.Second}},
	}
	for _, tt := range tests {
		if got := Decide(tt.res, tt.n, eventType, p); got != tt.want {
			t.Errorf("%s: Decide = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// A test event is one question to the endpoint: it is never retried on the
// schedule and never disables the webhook, whatever the answer.
func TestDecideTestEvent(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{Schedule: []time.Duration{10 * time.Second, time.Minute, time.Hour}, MinAfterThrottle: 5 * time.Minute}
	tests := []struct {
		name string
		res  sender.Result
		want Decision
	}{
		{"2xx succeeds", sender.Result{Outcome: sender.Success, StatusCode: 200}, Decision{Status: repo.StatusSucceeded}},
		{"500 fails without a retry", sender.Result{Outcome: sender.HTTPError, StatusCode: 500}, Decision{Status: repo.StatusFailed, Congested: true}},
		{"429 too", sender.Result{Outcome: sender.HTTPError, StatusCode: 429, RetryAfter: time.Minute}, Decision{Status: repo.StatusFailed, Congested: true}},
		{"a timeout too", sender.Result{Outcome: sender.Timeout}, Decision{Status: repo.StatusFailed, Congested: true}},
		{"410 does not disable", sender.Result{Outcome: sender.HTTPError, StatusCode: 410}, Decision{Status: repo.StatusFailed}},
	}
	for _, tt := range tests {
		tt.want.ExcludeFromHealth = true
		if got := Decide(tt.res, 1, catalog.TestType, p); got != tt.want {
			t.Errorf("%s: Decide = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
