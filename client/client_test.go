package client_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/client"
)

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, baseURL, key string }{
		{"no scheme", "webhooks.trackelio.com", "trk_x"},
		{"another scheme", "ftp://webhooks.trackelio.com", "trk_x"},
		{"no host", "https://", "trk_x"},
		{"user info", "https://me:pw@webhooks.trackelio.com", "trk_x"},
		{"a query", "https://webhooks.trackelio.com?x=1", "trk_x"},
		{"unparsable", "https://webhooks.trackelio.com/%zz", "trk_x"},
		{"no key", "https://webhooks.trackelio.com", " "},
	}
	for _, tt := range tests {
		if c, err := client.New(tt.baseURL, tt.key); err == nil {
			t.Errorf("%s: New(%q, %q) = %v, want an error", tt.name, tt.baseURL, tt.key, c)
		}
	}
}

// TestRequests: what each request carries, under a base URL with a path
// prefix and a trailing slash.
func TestRequests(t *testing.T) {
	t.Parallel()
	s := newScript(t, hookOK, hookCreated)
	s.URL += "/webhooks/"
	c, _ := s.client(t, scriptOptions{opts: []client.Option{client.WithUserAgent("trackelio-app/2.3")}})
	ctx := context.Background()
	if _, err := c.GetWebhook(ctx, hookID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateWebhook(ctx, client.CreateWebhookParams{URL: "https://hooks.acme.example/t", Events: []string{"post.created"}, Active: new(false)}); err != nil {
		t.Fatal(err)
	}
	type sent struct{ Method, Path, Auth, Accept, UserAgent, ContentType, Body string }
	var got []sent
	for _, r := range s.requests() {
		got = append(got, sent{r.Method, r.Path, r.Header.Get("Authorization"), r.Header.Get("Accept"),
			r.Header.Get("User-Agent"), r.Header.Get("Content-Type"), r.Body})
	}
	want := []sent{
		{"GET", "/webhooks/v1/webhooks/" + hookID, "Bearer trk_test_key", "application/json", "trackelio-app/2.3", "", ""},
		{"POST", "/webhooks/v1/webhooks", "Bearer trk_test_key", "application/json", "trackelio-app/2.3", "application/json",
			`{"url":"https://hooks.acme.example/t","events":["post.created"],"active":false}`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestDefaultUserAgent(t *testing.T) {
	t.Parallel()
	s := newScript(t, hookOK)
	c, _ := s.client(t, scriptOptions{})
	if err := getHook(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if got := s.requests()[0].Header.Get("User-Agent"); got != client.DefaultUserAgent {
		t.Errorf("User-Agent = %q, want %q", got, client.DefaultUserAgent)
	}
}

// TestEmptyIDIsRefusedBeforeSending: an empty id would name another route
// (GET /v1/webhooks/ lists them all), so nothing is sent.
func TestEmptyIDIsRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	s := newScript(t)
	c, _ := s.client(t, scriptOptions{})
	ctx := context.Background()
	calls := map[string]func() error{
		"GetWebhook":    func() error { _, err := c.GetWebhook(ctx, ""); return err },
		"DeleteWebhook": func() error { return c.DeleteWebhook(ctx, "") },
		"GetDelivery":   func() error { _, err := c.GetDelivery(ctx, ""); return err },
		"Redeliver":     func() error { _, err := c.Redeliver(ctx, ""); return err },
		"SendTestEvent": func() error { _, err := c.SendTestEvent(ctx, ""); return err },
	}
	for name, call := range calls {
		if err := call(); err == nil || !strings.Contains(err.Error(), "id is empty") {
			t.Errorf("%s(\"\") = %v, want an empty-id error", name, err)
		}
	}
	if n := len(s.requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

// TestIDsAreEscaped: an id cannot reach another route.
func TestIDsAreEscaped(t *testing.T) {
	t.Parallel()
	s := newScript(t, reply(404, apiError("not_found", "no such resource", "")))
	c, _ := s.client(t, scriptOptions{})
	if _, err := c.GetWebhook(context.Background(), "../deliveries/x?y"); err == nil {
		t.Error("GetWebhook answered 404 without an error")
	}
	if got := s.requests()[0]; got.Path != "/v1/webhooks/..%2Fdeliveries%2Fx%3Fy" || got.RawQuery != "" {
		t.Errorf("path %q query %q, want the id as one escaped segment", got.Path, got.RawQuery)
	}
}
