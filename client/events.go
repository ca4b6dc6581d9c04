package client

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
)

// EventType is one type of the catalog, as GET /v1/event-types lists it.
type EventType struct {
	Type        string `json:"type"`
	Description string `json:"description"`
	// Operational marks the operator's notices sent to operational
	// webhooks; customers cannot publish or subscribe to these.
	Operational bool `json:"operational"`
	// Schema is the JSON Schema of the type's data, and Example a data
	// object that it accepts; both are absent from an API that does not
	// publish them.
	Schema  json.RawMessage `json:"schema,omitempty"`
	Example json.RawMessage `json:"example,omitempty"`
}

// ListEventTypes lists the catalog's event types, in documentation order.
func (c *Client) ListEventTypes(ctx context.Context) ([]EventType, error) {
	var page struct {
		Data []EventType `json:"data"`
	}
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/v1/event-types", idempotent: true}, &page)
	return page.Data, err
}

// Event is the API's answer to a published event.
type Event struct {
	// ID is the event's id, the same in every delivery of it.
	ID string `json:"id"`
	// Deliveries is how many webhooks it is being delivered to.
	Deliveries int `json:"deliveries"`
	// Replayed says the API had already accepted an event with this
	// idempotency key (header Idempotent-Replayed): this is the first
	// answer again, and nothing new was created.
	Replayed bool `json:"-"`
	// IdempotencyKey is the key the event was published with, given by
	// WithIdempotencyKey or generated.
	IdempotencyKey string `json:"-"`
}

// PublishOption adjusts one Publish call.
type PublishOption func(*publishConfig)

type publishConfig struct {
	key string
}

// WithIdempotencyKey publishes with key (at most 255 printable ASCII
// characters) instead of one generated for the call. A key derived from
// what happened, such as "post-42-created", makes a publish repeated later,
// after a crash or by another process, answer the first event instead of
// creating a second one. The repeat must carry the same event: under a key
// already used for another type or other data (compared as compacted JSON,
// so member order counts) the API refuses it with
// CodeIdempotencyKeyReused, which Publish does not retry.
func WithIdempotencyKey(key string) PublishOption {
	return func(p *publishConfig) { p.key = key }
}

// Publish reports an event of a catalog type to every webhook of the
// workspace subscribed to it. data is the event's data object, marshalled
// with encoding/json; a json.RawMessage is sent as it is. The API checks
// it against the type's schema and its limits (at most 32 levels of
// nesting, no key twice in an object): a refusal is an *Error with Code
// CodeValidationFailed whose Field points into the request body, such as
// "/data/post/id".
//
// Every attempt of one call sends the same Idempotency-Key, so Publish
// retries network errors, 429s and 5xx answers without the risk of
// publishing twice (see the package documentation). When it fails, the
// Event it returns still holds the IdempotencyKey, to publish again with
// later.
func (c *Client) Publish(ctx context.Context, eventType string, data any, opts ...PublishOption) (Event, error) {
	var cfg publishConfig
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.key == "" {
		cfg.key = rand.Text()
	}
	body := struct {
		Type string `json:"type"`
		Data any    `json:"data"`
	}{eventType, data}
	ev := Event{IdempotencyKey: cfg.key}
	header, err := c.do(ctx, call{
		method: http.MethodPost, path: "/v1/events", body: body,
		header: http.Header{"Idempotency-Key": {cfg.key}}, idempotent: true,
	}, &ev)
	if err != nil {
		return Event{IdempotencyKey: cfg.key}, err
	}
	ev.Replayed = header.Get("Idempotent-Replayed") == "true"
	return ev, nil
}
