package delivery

import (
	"net/http"
	"time"
)

// TestEventType is the type of the event POST /v1/webhooks/{id}/test sends.
// It checks an endpoint rather than delivering anything: it is asked once,
// never retried, and counts toward no webhook's health. It is not in the
// catalog: nobody subscribes to it, and producers cannot send it.
const TestEventType = "webhook.test"

// IsTest says whether an event type is the test event's.
func IsTest(eventType string) bool { return eventType == TestEventType }

// DisabledGone is the reason a webhook is disabled after a 410 Gone, and
// DisabledFailing after a failure streak (see AutoDisable).
const (
	DisabledGone    = "gone"
	DisabledFailing = "failing"
)

// Decision is what one attempt's result means for its delivery.
type Decision struct {
	// Status is the delivery's new status: pending (another attempt
	// follows after Delay), succeeded, or failed (no more attempts).
	Status Status
	Delay  time.Duration
	// DisableReason, when set, disables the webhook at once (DisabledGone).
	DisableReason string
	// Congested says the endpoint is struggling (a timeout, 429 or 5xx, or
	// a refused connection): its in-flight limit shrinks.
	Congested bool
	// ExcludeFromHealth keeps the attempt out of the webhook's health
	// (counters, streak, breaker, auto-disable): a test event's.
	ExcludeFromHealth bool
}

// Decide is the one rule for an attempt's outcome, from its response, its
// number (1-based), its event type and the retry policy. A 2xx succeeds; a
// 410 says the endpoint is gone for good; a failure retries after the
// policy's delay (longer after a 429 or timeout, and at least the
// receiver's Retry-After) until the attempts are used up. A test event asks
// the endpoint once: it is not retried, disables nothing and does not count
// toward the webhook's health. How a failure streak disables a webhook is
// Health.Apply, applied to the stored attempts.
func Decide(r Response, n int, eventType string, p RetryPolicy) Decision {
	test := IsTest(eventType)
	d := Decision{Congested: congested(r), ExcludeFromHealth: test}
	switch {
	case r.Outcome == Success:
		d.Status = StatusSucceeded
	case r.StatusCode == http.StatusGone && !test:
		d.Status, d.DisableReason = StatusFailed, DisabledGone
	case n >= p.MaxAttemptsFor(eventType):
		d.Status = StatusFailed
	default:
		d.Status = StatusPending
		throttled := r.StatusCode == http.StatusTooManyRequests || r.Outcome == Timeout
		d.Delay = p.After(n, r.RetryAfter, throttled)
	}
	return d
}

// congested says whether an attempt's response asks for less concurrency.
func congested(r Response) bool {
	switch r.Outcome {
	case Timeout, ConnectionError:
		return true
	case HTTPError:
		return r.StatusCode == http.StatusTooManyRequests || r.StatusCode >= 500
	}
	return false
}
