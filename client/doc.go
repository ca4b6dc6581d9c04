// Package client is the Go client of the Trackelio Webhooks API, as the
// Trackelio app (the producer) uses it: it publishes events and manages a
// workspace's webhooks, deliveries and dashboard links.
//
//	c, err := client.New("https://webhooks.trackelio.com", os.Getenv("TRACKELIO_WEBHOOKS_KEY"))
//	if err != nil {
//		return err
//	}
//	ev, err := c.Publish(ctx, "post.created", post,
//		client.WithIdempotencyKey("post-"+post.ID+"-created"))
//	var apiErr *client.Error
//	if errors.As(err, &apiErr) && apiErr.Code == client.CodeValidationFailed {
//		log.Printf("refused %s: %s", apiErr.Field, apiErr.Message)
//	}
//
// # Retries
//
// A request is repeated, with exponential backoff and full jitter, only
// when repeating it cannot do anything twice:
//
//   - Publish sends an Idempotency-Key, generated once per call unless
//     WithIdempotencyKey gives one, and the same key on every attempt, so
//     the API answers a repeat with the first result. It is retried after a
//     network error, a 429 and a 500, 502, 503 or 504. A key already used
//     for a different event is refused with CodeIdempotencyKeyReused, and
//     not retried.
//   - Reads (GET), updates (PATCH), deletes (DELETE), a dry-run Recover and
//     CreatePortalSession are retried in the same cases. A portal link
//     created by an attempt whose answer was lost is never seen, and expires
//     unused within minutes.
//   - CreateWebhook, RotateWebhookSecret, SendTestEvent, Redeliver and
//     Recover carry no key: done twice, they create two webhooks, two
//     secrets, two deliveries. They are retried only when the API certainly did not act:
//     the connection could not be made, or the answer was a 429, which the
//     API gives before the request reaches its handler. A 503 is not
//     retried for them: the API may answer it after its database committed.
//
// A Retry-After header (seconds or an HTTP date) is the least the next wait
// lasts. RetryPolicy bounds the attempts and the time spent; the context
// bounds everything, waits included. A wait that would outlast either ends
// the call at once with the last answer, whose Error.RetryAfter tells when
// to come back.
//
// # Errors
//
// An answer other than 2xx is an *Error carrying the HTTP status and the
// API's code, message and refused field; use errors.As. Other failures (the
// network, the context, an undecodable answer) are returned wrapped, so
// errors.Is(err, context.DeadlineExceeded) works as usual.
//
// # Compatibility
//
// client and signature are the module's public packages, the only ones
// meant to be imported from outside it; both need only the standard
// library. Their exported API only grows: no exported name is removed or
// renamed and none changes meaning, so code that compiles against them
// keeps compiling and behaving the same. Additions are new functions,
// options, constants and struct fields, so build structs with field names.
// The types follow the API's JSON, which gains members but never loses or
// retypes one. Every other package of the module is the service's own and
// may change in any commit.
package client
