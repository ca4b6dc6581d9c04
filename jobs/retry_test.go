package jobs_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/trackelio/webhooks/jobs"
)

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	task := asynq.NewTask(jobs.TypeDeliver, nil)
	ra := &jobs.RetryAfterError{Delay: 42 * time.Second, Failure: true, Reason: "attempt 1 failed"}
	for _, err := range []error{ra, fmt.Errorf("wrapped: %w", ra)} {
		for _, n := range []int{0, 5, 500} {
			// Stretched to end on a whole second, since asynq truncates due
			// times to seconds and would otherwise run the task early.
			now := time.Now()
			got := jobs.RetryDelay(n, err, task)
			due := now.Add(got)
			if got < 42*time.Second || got >= 43*time.Second || due.Sub(due.Round(time.Second)).Abs() > 5*time.Millisecond {
				t.Errorf("RetryDelay(%d, %v) = %v (due %s), want the error's 42s ending on a whole second", n, err, got, due.Format(time.StampMicro))
			}
		}
	}
	// An untyped error made no recorded attempt: retried soon, growing, and
	// bounded by a minute however many times it happened.
	plain := errors.New("connection to postgres refused")
	prev := time.Duration(0)
	for n := range 1000 {
		got := jobs.RetryDelay(n, plain, task)
		if got <= 0 || got > time.Minute || got < prev {
			t.Fatalf("RetryDelay(%d, plain) = %v after %v; want non-decreasing within (0, 1m]", n, got, prev)
		}
		prev = got
	}
	if prev != time.Minute {
		t.Errorf("RetryDelay after many retries = %v, want the 1m cap", prev)
	}
}

func TestIsFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"failed attempt", &jobs.RetryAfterError{Delay: time.Second, Failure: true}, true},
		{"wrapped failed attempt", fmt.Errorf("x: %w", &jobs.RetryAfterError{Failure: true}), true},
		{"not due yet", &jobs.RetryAfterError{Delay: time.Hour, Failure: false}, false},
		{"wrapped not due yet", fmt.Errorf("x: %w", &jobs.RetryAfterError{}), false},
		{"plain error", errors.New("db down"), true},
		{"skip retry", fmt.Errorf("exhausted: %w", asynq.SkipRetry), true},
	}
	for _, tt := range tests {
		if got := jobs.IsFailure(tt.err); got != tt.want {
			t.Errorf("IsFailure(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRetryAfterErrorMessage(t *testing.T) {
	t.Parallel()
	err := &jobs.RetryAfterError{Delay: 90 * time.Second, Failure: true, Reason: "attempt 2 failed: receiver answered 500"}
	if got, want := err.Error(), "attempt 2 failed: receiver answered 500; next try in 1m30s"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
