package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/repo"
)

// The error codes the API answers with, in error.code: clients branch on
// them, so they are written once, here. A refusal by manage carries its own
// code (webhook_inactive, …). The OpenAPI document's Error schema lists them.
const (
	codeValidationFailed     = "validation_failed"
	codeUnauthorized         = "unauthorized"
	codeNotFound             = "not_found"
	codeRateLimited          = "rate_limited"
	codeMethodNotAllowed     = "method_not_allowed"
	codeInvalidJSON          = "invalid_json"
	codePayloadTooLarge      = "payload_too_large"
	codeConflict             = "conflict"
	codeLimitExceeded        = "limit_exceeded"
	codeIdempotencyKeyReused = "idempotency_key_reused"
	codeTestTimeout          = "test_timeout"
	codeUnavailable          = "unavailable"
	codeInternal             = "internal"
)

// Error is an API error with the status and JSON body it answers.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *Error) Error() string { return e.Message }

func invalid(field, message string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: codeValidationFailed, Field: field, Message: message}
}

var (
	errUnauthorized = &Error{Status: http.StatusUnauthorized, Code: codeUnauthorized, Message: "missing or invalid API key: send Authorization: Bearer <key>"}
	errNotFound     = &Error{Status: http.StatusNotFound, Code: codeNotFound, Message: "no such resource"}
)

// retryAfterUnavailable is the Retry-After, in seconds, of a 503 while the
// database cannot be reached: about how long a PostgreSQL restart takes.
const retryAfterUnavailable = 2

// writeError is the one place errors become HTTP statuses.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var (
		apiErr    *Error
		fieldErrs manage.FieldErrors
		refusal   *manage.Refusal
		timeout   *manage.TestTimeout
		reused    *repo.KeyReusedError
	)
	switch {
	case errors.As(err, &apiErr):
	case errors.As(err, &fieldErrs) && len(fieldErrs) > 0:
		// The first refused field, in the order the fields are documented.
		apiErr = invalid(fieldErrs[0].Field, fieldErrs[0].Message)
	case errors.As(err, &refusal):
		apiErr = &Error{Status: http.StatusConflict, Code: refusal.Code, Message: refusal.Message}
	case errors.As(err, &timeout):
		apiErr = &Error{Status: http.StatusGatewayTimeout, Code: codeTestTimeout, Message: timeout.Error()}
	case errors.As(err, &reused):
		// Nothing was stored: a new key sends the new event.
		apiErr = &Error{Status: http.StatusUnprocessableEntity, Code: codeIdempotencyKeyReused, Field: "Idempotency-Key",
			Message: fmt.Sprintf("Idempotency-Key %q was already used for a different event (id %s); use a new key for a new event", reused.Key, reused.EventID)}
	case errors.Is(err, repo.ErrNotFound):
		apiErr = errNotFound
	case errors.Is(err, repo.ErrLimitReached):
		apiErr = &Error{Status: http.StatusUnprocessableEntity, Code: codeLimitExceeded, Message: err.Error()}
	case errors.Is(err, repo.ErrConflict):
		apiErr = &Error{Status: http.StatusConflict, Code: codeConflict, Message: "the request conflicts with existing data"}
	case repo.Unavailable(err):
		// Nothing was accepted; the same request may succeed in a moment.
		// A POST /v1/events whose commit was cut short may still have been
		// stored: retried with its Idempotency-Key it answers the same event.
		log.WarnContext(r.Context(), "database unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterUnavailable))
		apiErr = &Error{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Message: "the service cannot reach its database; retry after the Retry-After seconds"}
	default:
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		apiErr = &Error{Status: http.StatusInternalServerError, Code: codeInternal, Message: "internal error; it has been logged"}
	}
	writeJSON(w, apiErr.Status, struct {
		Error *Error `json:"error"`
	}{apiErr})
}
