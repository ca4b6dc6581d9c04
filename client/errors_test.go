package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/client"
)

func TestErrorFromAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		answer   step
		want     *client.Error
		wantText string
	}{
		{"validation", reply(422, apiError("validation_failed", "post.id is required", "/data/post/id")),
			&client.Error{Status: 422, Code: "validation_failed", Message: "post.id is required", Field: "/data/post/id"},
			"trackelio: GET /v1/webhooks/" + hookID + ": 422 validation_failed: post.id is required (field /data/post/id)"},
		{"no field", reply(404, apiError("not_found", "no such resource", "")),
			&client.Error{Status: 404, Code: "not_found", Message: "no such resource"},
			"trackelio: GET /v1/webhooks/" + hookID + ": 404 not_found: no such resource"},
		{"Retry-After in seconds", reply(429, apiError("rate_limited", "slow down", ""), "Retry-After", "7"),
			&client.Error{Status: 429, Code: "rate_limited", Message: "slow down", RetryAfter: 7 * time.Second},
			"trackelio: GET /v1/webhooks/" + hookID + ": 429 rate_limited: slow down (retry after 7s)"},
		{"Retry-After as a date", reply(503, apiError("unavailable", "down", ""), "Retry-After", "Fri, 02 Jan 2026 03:04:35 GMT"),
			&client.Error{Status: 503, Code: "unavailable", Message: "down", RetryAfter: 30 * time.Second},
			"trackelio: GET /v1/webhooks/" + hookID + ": 503 unavailable: down (retry after 30s)"},
		{"a proxy's page", badGateway,
			&client.Error{Status: 502, Message: "Bad Gateway: <html><body>502 Bad Gateway</body></html>"},
			"trackelio: GET /v1/webhooks/" + hookID + ": 502: Bad Gateway: <html><body>502 Bad Gateway</body></html>"},
		{"a long foreign body is cut", reply(500, strings.Repeat("é", 300)),
			&client.Error{Status: 500, Message: "Internal Server Error: " + strings.Repeat("é", 100) + "…"}, ""},
		{"no body", reply(500, ""),
			&client.Error{Status: 500, Message: "Internal Server Error"}, ""},
		{"JSON that is not the error shape", reply(400, `{"message":"nope"}`),
			&client.Error{Status: 400, Message: `Bad Request: {"message":"nope"}`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newScript(t, tt.answer)
			c, _ := s.client(t, scriptOptions{opts: []client.Option{client.WithRetry(client.RetryPolicy{MaxAttempts: 1})}})
			err := getHook(context.Background(), c)
			var got *client.Error
			if !errors.As(err, &got) {
				t.Fatalf("err = %v, want an *Error", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if tt.wantText != "" && err.Error() != tt.wantText {
				t.Errorf("text = %q\nwant   %q", err.Error(), tt.wantText)
			}
		})
	}
}

// TestErrorNamesTheAttempts: an error after retries says how many attempts
// were made, and still unwraps to the last answer.
func TestErrorNamesTheAttempts(t *testing.T) {
	t.Parallel()
	s := newScript(t, internal, reply(404, apiError("not_found", "no such resource", "")))
	c, _ := s.client(t, scriptOptions{})
	err := getHook(context.Background(), c)
	want := "trackelio: GET /v1/webhooks/" + hookID + " (2 attempts): 404 not_found: no such resource"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Code != client.CodeNotFound {
		t.Errorf("errors.As = %+v, want the 404", apiErr)
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"2", 2 * time.Second},
		{" 3 ", 3 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{"99999999999999999", 24 * time.Hour},
		{"Fri, 02 Jan 2026 03:05:05 GMT", time.Minute},
		{"Fri, 02 Jan 2026 03:00:00 GMT", 0}, // already past
		{"Sat, 03 Jan 2026 03:04:06 GMT", 24 * time.Hour},
	}
	for _, tt := range tests {
		if got := client.ParseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestRedirectsAreNotFollowed: the default HTTP client answers a redirect
// as an error rather than sending the request elsewhere (as a GET, for a
// POST).
func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	s := newScript(t)
	s.steps = []step{reply(307, "", "Location", s.URL+"/elsewhere")}
	c, err := client.New(s.URL, "trk_test_key", client.WithRetry(client.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	err = createHook(context.Background(), c)
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 307 {
		t.Errorf("err = %v, want an *Error with status 307", err)
	}
	if n := len(s.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// wantError checks that err is an *Error with want's status, code, field
// and Retry-After, and some message.
func wantError(tb testing.TB, err error, want client.Error) {
	tb.Helper()
	var got *client.Error
	if !errors.As(err, &got) {
		tb.Fatalf("err = %v, want an *Error", err)
	}
	if got.Message == "" {
		tb.Errorf("no message in %+v", got)
	}
	g := *got
	g.Message = ""
	if diff := cmp.Diff(want, g); diff != "" {
		tb.Errorf("error (-want +got):\n%s", diff)
	}
}
