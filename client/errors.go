package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Error is an answer of the API other than 2xx. Its body is
// {"error":{"code","message","field"}}; an answer without that shape (a
// proxy's, say) has an empty Code and the start of its body as Message.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Code is the API's error code, one of the Code constants.
	Code string
	// Message says what was wrong, for a person.
	Message string
	// Field names what was refused, as the API names it: a body member
	// ("url"), a header ("Idempotency-Key"), a query parameter ("limit"),
	// or a JSON pointer into the request body ("/data/post/id"). Empty
	// when no one field was at fault.
	Field string
	// RetryAfter is the answer's Retry-After delay, zero without one: the
	// least to wait before sending the request again (429 and 503).
	RetryAfter time.Duration
}

// The error codes the API answers with.
const (
	CodeInvalidJSON          = "invalid_json"           // 400: the body is not one JSON object
	CodeUnauthorized         = "unauthorized"           // 401: missing or unknown API key
	CodeNotFound             = "not_found"              // 404: no such id in this workspace, or no such route
	CodeMethodNotAllowed     = "method_not_allowed"     // 405
	CodeConflict             = "conflict"               // 409: conflicts with existing data
	CodeWebhookInactive      = "webhook_inactive"       // 409: redeliver or recover on an inactive webhook
	CodePublicURLNotSet      = "public_url_not_set"     // 409: a portal link asked of an api without PUBLIC_URL
	CodePayloadTooLarge      = "payload_too_large"      // 413: an event body over 256 KiB
	CodeValidationFailed     = "validation_failed"      // 422: Field names what was refused
	CodeLimitExceeded        = "limit_exceeded"         // 422: the workspace has its most webhooks
	CodeIdempotencyKeyReused = "idempotency_key_reused" // 422: the key was used for another event; publish with a new key
	CodeRateLimited          = "rate_limited"           // 429: see RetryAfter
	CodeInternal             = "internal"               // 500
	CodeUnavailable          = "unavailable"            // 503: the API cannot reach its database; see RetryAfter
	CodeTestTimeout          = "test_timeout"           // 504: no attempt of a test event within the wait
)

// Error reads like "422 validation_failed: url is required (field url)".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(e.Status))
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, " (field %s)", e.Field)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// maxErrorText bounds the part of a foreign error body kept as Message.
const maxErrorText = 200

// newError reads a non-2xx answer; now reads a Retry-After date.
func newError(status int, header http.Header, body []byte, now time.Time) *Error {
	e := &Error{Status: status, RetryAfter: retryAfter(header.Get("Retry-After"), now)}
	var shaped struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &shaped) == nil && shaped.Error != nil && shaped.Error.Code != "" {
		e.Code, e.Message, e.Field = shaped.Error.Code, shaped.Error.Message, shaped.Error.Field
		return e
	}
	e.Message = http.StatusText(status)
	if text := strings.TrimSpace(strings.ToValidUTF8(string(body), "")); text != "" {
		if len(text) > maxErrorText {
			cut := maxErrorText
			for cut > 0 && !utf8.RuneStart(text[cut]) {
				cut--
			}
			text = text[:cut] + "…"
		}
		e.Message += ": " + text
	}
	return e
}

// maxRetryAfter caps a Retry-After, which keeps its arithmetic from
// overflowing; a wait that long outlasts any RetryPolicy anyway.
const maxRetryAfter = 24 * time.Hour

// retryAfter reads a Retry-After value, seconds or an HTTP date; anything
// else, or a time already past, is zero.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter)
	}
	return 0
}
