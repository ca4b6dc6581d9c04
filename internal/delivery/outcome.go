package delivery

import "time"

// Outcome classifies an attempt; the values are metric labels and API values.
type Outcome string

// Attempt outcomes.
const (
	Success         Outcome = "success"
	HTTPError       Outcome = "http_error"
	Timeout         Outcome = "timeout"
	ConnectionError Outcome = "connection_error"
	// Blocked means the destination guard refused the address; no
	// connection was made.
	Blocked Outcome = "blocked"
)

// Outcomes lists every outcome, so metrics can show each from the start.
var Outcomes = []Outcome{Success, HTTPError, Timeout, ConnectionError, Blocked}

// Response is what a decision reads of an attempt's answer.
type Response struct {
	Outcome    Outcome
	StatusCode int // 0 when no response arrived
	// RetryAfter is the receiver's Retry-After on a 429 or 503, or zero.
	RetryAfter time.Duration
}
