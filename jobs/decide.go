package jobs

import (
	"net/http"
	"time"

	"github.com/trackelio/webhooks/catalog"
	"github.com/trackelio/webhooks/repo"
	"github.com/trackelio/webhooks/sender"
)

// Decision is what one attempt's result means for its delivery.
type Decision struct {
	// Status is the delivery's new status: pending (another attempt
	// follows after Delay), succeeded, or failed (no more attempts).
	Status string
	Delay  time.Duration
	// DisableReason, when set, disables the webhook at once ("gone").
	DisableReason string
	// Congested says the endpoint is struggling (a timeout, 429 or 5xx, or
	// a refused connection): its in-flight limit shrinks.
	Congested bool
	// ExcludeFromHealth keeps the attempt out of the webhook's health
	// (counters, streak, breaker, auto-disable): a test event's.
	ExcludeFromHealth bool
}

// Decide is the one rule for an attempt's outcome, from its result, its
// number (1-based), its event type and the retry policy. A 2xx succeeds; a
// 410 says the endpoint is gone for good; a failure retries after the
// policy's delay (longer after a 429 or timeout, and at least the
// receiver's Retry-After) until the attempts are used up. A test event asks
// the endpoint once: it is not retried, disables nothing and does not
// count toward the webhook's health. How the failure streak disables a
// webhook is repo's fold of the stored attempts, applied once per batch.
func Decide(res sender.Result, n int, eventType string, p RetryPolicy) Decision {
	test := isTest(eventType)
	d := Decision{Congested: congested(res), ExcludeFromHealth: test}
	switch {
	case res.Outcome == sender.Success:
		d.Status = repo.StatusSucceeded
	case res.StatusCode == http.StatusGone && !test:
		d.Status, d.DisableReason = repo.StatusFailed, "gone"
	case n >= p.MaxAttemptsFor(eventType):
		d.Status = repo.StatusFailed
	default:
		d.Status = repo.StatusPending
		throttled := res.StatusCode == http.StatusTooManyRequests || res.Outcome == sender.Timeout
		d.Delay = p.After(n, res.RetryAfter, throttled)
	}
	return d
}

// isTest says whether a delivery is of a test event (POST /test), which
// checks an endpoint rather than delivering anything.
func isTest(eventType string) bool { return eventType == catalog.TestType }

// congested says whether an attempt's result asks for less concurrency.
func congested(res sender.Result) bool {
	switch res.Outcome {
	case sender.Timeout, sender.ConnectionError:
		return true
	case sender.HTTPError:
		return res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500
	}
	return false
}
