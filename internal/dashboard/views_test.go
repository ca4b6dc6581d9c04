package dashboard

import (
	"testing"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/repo"
)

func TestWebhookHealth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		hook delivery.Health
		want badge
	}{
		{delivery.Health{Active: true}, badge{"healthy", "Active", ""}},
		{delivery.Health{Active: true, ConsecutiveFailures: 1}, badge{"failing", "Active", "the last attempt failed"}},
		{delivery.Health{Active: true, ConsecutiveFailures: 12}, badge{"failing", "Active", "the last 12 attempts failed"}},
		{delivery.Health{}, badge{"inactive", "Inactive", ""}},
		{delivery.Health{DisabledReason: "gone"}, badge{"disabled", "Inactive", "disabled: the endpoint answered 410 Gone"}},
		{delivery.Health{DisabledReason: "failing", ConsecutiveFailures: 30}, badge{"disabled", "Inactive", "disabled: it kept failing"}},
		{delivery.Health{DisabledReason: "abuse"}, badge{"disabled", "Inactive", "disabled: abuse"}},
	}
	for _, tt := range tests {
		if got := webhookHealth(tt.hook); got != tt.want {
			t.Errorf("webhookHealth(%+v) = %+v, want %+v", tt.hook, got, tt.want)
		}
	}
}

func TestDeliveryOutcomeAndFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d        repo.Delivery
		want     string
		failures int
	}{
		{repo.Delivery{Status: delivery.StatusPending}, "Pending", 0},
		// One word for the one state: how far its attempts went shows beside it.
		{repo.Delivery{Status: delivery.StatusPending, Attempts: 2}, "Pending", 2},
		{repo.Delivery{Status: delivery.StatusSucceeded, Attempts: 1}, "Succeeded", 0},
		{repo.Delivery{Status: delivery.StatusSucceeded, Attempts: 4}, "Succeeded", 3},
		{repo.Delivery{Status: delivery.StatusFailed, Attempts: 10}, "Failed", 10},
		{repo.Delivery{Status: delivery.StatusCancelled}, "Cancelled", 0},
		{repo.Delivery{Status: delivery.StatusCancelled, Attempts: 3}, "Cancelled", 3},
	}
	for _, tt := range tests {
		if got := deliveryOutcome(tt.d).Label; got != tt.want {
			t.Errorf("deliveryOutcome(%s, %d attempts) = %q, want %q", tt.d.Status, tt.d.Attempts, got, tt.want)
		}
		if got := failedAttempts(tt.d); got != tt.failures {
			t.Errorf("failedAttempts(%s, %d attempts) = %d, want %d", tt.d.Status, tt.d.Attempts, got, tt.failures)
		}
	}
}

func TestTextAndExcerpt(t *testing.T) {
	t.Parallel()
	if got := text([]byte("ok \xff\xfe end")); got != "ok \uFFFD end" {
		t.Errorf("text = %q", got)
	}
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"  spread\n over\tlines  ", 80, "spread over lines"},
		{"héllo wörld", 5, "héllo…"},
		{"exactly", 7, "exactly"},
	}
	for _, tt := range tests {
		if got := excerpt(tt.in, tt.n); got != tt.want {
			t.Errorf("excerpt(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestLocalNext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/dashboard/webhooks/new":     "/dashboard/webhooks/new",
		"/dashboard/webhooks?x=1#h":   "/dashboard/webhooks?x=1#h",
		"/dashboard/login?next=/x":    "",
		"https://evil.example/":       "",
		"//evil.example/dashboard/":   "",
		"/dashboard/\\\\evil.example": "",
		"/dashboard/\r\nSet-Cookie:":  "",
		"/v1/webhooks":                "",
		"":                            "",
	} {
		if got := localNext(in); got != want {
			t.Errorf("localNext(%q) = %q, want %q", in, got, want)
		}
	}
}
