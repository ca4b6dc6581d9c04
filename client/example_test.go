package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/trackelio/webhooks/client"
)

// The examples run against the real api at apiURL, each in a new
// workspace whose API key newAPIKey returns; in the Trackelio app both come
// from its configuration.

func ExampleNew() {
	c, err := client.New(apiURL, newAPIKey("Acme"),
		client.WithUserAgent("trackelio-app/2.3"),
		client.WithHTTPClient(&http.Client{Timeout: 10 * time.Second}),
		client.WithRetry(client.RetryPolicy{MaxAttempts: 3, MaxElapsed: 10 * time.Second}),
	)
	if err != nil {
		log.Fatal(err)
	}
	types, err := c.ListEventTypes(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	// Operational types are the operator's notices: none to subscribe to.
	var subscribable []string
	for _, t := range types {
		if !t.Operational {
			subscribable = append(subscribable, t.Type)
		}
	}
	fmt.Println(len(subscribable), "event types to subscribe to, the first", subscribable[0])
	// Output: 7 event types to subscribe to, the first post.created
}

func ExampleClient_Publish() {
	ctx := context.Background()
	c, err := client.New(apiURL, newAPIKey("Acme"))
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.CreateWebhook(ctx, client.CreateWebhookParams{
		URL: "https://hooks.acme.example/trackelio", Events: []string{"post.created"},
	})
	if err != nil {
		log.Fatal(err)
	}

	data := map[string]any{
		"post": map[string]any{
			"id": "post_1", "title": "Dark mode", "body": "Please add a dark theme.", "status": "open",
			"board":  map[string]string{"id": "board_1", "name": "Ideas"},
			"author": map[string]string{"id": "user_1", "name": "Ana"},
		},
		"source": "widget",
	}
	// A key derived from what happened makes a publish repeated later
	// (after a crash, say) answer the same event.
	ev, err := c.Publish(ctx, "post.created", data, client.WithIdempotencyKey("post_1-created"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("deliveries: %d, replayed: %v\n", ev.Deliveries, ev.Replayed)

	again, err := c.Publish(ctx, "post.created", data, client.WithIdempotencyKey("post_1-created"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("same event: %v, replayed: %v\n", again.ID == ev.ID, again.Replayed)
	// Output:
	// deliveries: 1, replayed: false
	// same event: true, replayed: true
}

func ExampleClient_CreateWebhook() {
	ctx := context.Background()
	c, err := client.New(apiURL, newAPIKey("Acme"))
	if err != nil {
		log.Fatal(err)
	}
	hook, err := c.CreateWebhook(ctx, client.CreateWebhookParams{
		URL:         "https://hooks.acme.example/trackelio",
		Events:      []string{"post.created", "comment.created"},
		Description: "CRM sync",
	})
	if err != nil {
		log.Fatal(err)
	}
	// Show the secret to the customer once; GetWebhookSecret reads it later.
	fmt.Println("secret shown:", strings.HasPrefix(hook.Secret, "whsec_"))

	comment := json.RawMessage(`{"comment":{"id":"cmt_1","body":"Same here","author":{"id":"user_2","name":"Ben"}},"post":{"id":"post_1","title":"Dark mode"}}`)
	if _, err := c.Publish(ctx, "comment.created", comment); err != nil {
		log.Fatal(err)
	}

	page, err := c.ListDeliveries(ctx, hook.ID, client.DeliveryFilter{Limit: 10})
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range page.Data {
		fmt.Println(d.EventType, d.Status, d.Attempts, "attempts")
	}
	detail, err := c.GetDelivery(ctx, page.Data[0].ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("attempts listed:", len(detail.Attempts), "more pages:", page.NextCursor != "")
	// Output:
	// secret shown: true
	// comment.created pending 0 attempts
	// attempts listed: 0 more pages: false
}

func ExampleClient_CreatePortalSession() {
	c, err := client.New(apiURL, newAPIKey("Acme"))
	if err != nil {
		log.Fatal(err)
	}
	s, err := c.CreatePortalSession(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	// Redirect the signed-in user to s.URL, or put it in an iframe.
	fmt.Println(strings.Contains(s.URL, "/dashboard/session/trkpl_"), "link, valid for", time.Until(s.ExpiresAt).Round(time.Minute))
	// Output: true link, valid for 5m0s
}

func ExampleError() {
	ctx := context.Background()
	c, err := client.New(apiURL, newAPIKey("Acme"))
	if err != nil {
		log.Fatal(err)
	}
	noPostID := json.RawMessage(`{"post":{"title":"Dark mode","body":"Please add a dark theme.","status":"open","board":{"id":"board_1","name":"Ideas"},"author":{"id":"user_1","name":"Ana"}},"source":"widget"}`)
	for _, eventType := range []string{"post.deleted", "post.created"} {
		_, err := c.Publish(ctx, eventType, noPostID)
		var apiErr *client.Error
		if errors.As(err, &apiErr) && apiErr.Code == client.CodeValidationFailed {
			fmt.Println(apiErr.Status, "refused", apiErr.Field)
		}
	}
	// Output:
	// 422 refused type
	// 422 refused /data/post/id
}
