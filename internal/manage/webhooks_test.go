package manage

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/repo"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	s := New(Config{CheckURL: func(raw string) error {
		if strings.Contains(raw, "10.0.0.1") {
			return errors.New("refused address")
		}
		return nil
	}})
	long := strings.Repeat("é", MaxDescriptionLen+1)
	tests := []struct {
		name     string
		in       WebhookInput
		creating bool
		want     repo.WebhookPatch
		wantErr  FieldErrors
	}{
		{"create trims the url and drops repeated events", WebhookInput{
			URL: new("  https://a.example/hook "), Events: []string{"post.created", "nps.submitted", "post.created"},
		}, true, repo.WebhookPatch{URL: new("https://a.example/hook"), Events: []string{"post.created", "nps.submitted"}}, nil},
		{"create needs url and events", WebhookInput{}, true, repo.WebhookPatch{}, FieldErrors{
			{"url", "url is required"}, {"events", "events must list at least one event type"},
		}},
		{"every bad field is named, in form order", WebhookInput{
			URL: new("http://10.0.0.1/"), Events: []string{"post.deleted"}, Description: &long,
		}, true, repo.WebhookPatch{}, FieldErrors{
			{"url", "refused address"},
			{"events", `unknown event type "post.deleted"; see GET /v1/event-types`},
			{"description", "description is longer than 1000 characters"},
		}},
		{"a change leaves what it does not name", WebhookInput{Active: new(false)}, false,
			repo.WebhookPatch{Active: new(false)}, nil},
		{"a change may not empty the events", WebhookInput{Events: []string{}}, false, repo.WebhookPatch{}, FieldErrors{
			{"events", "events must list at least one event type"},
		}},
		{"a change may not blank the url", WebhookInput{URL: new(" ")}, false, repo.WebhookPatch{}, FieldErrors{
			{"url", "url is required"},
		}},
		{"more than 100 entries", WebhookInput{URL: new("https://a.example"), Events: make([]string, 101)}, true,
			repo.WebhookPatch{}, FieldErrors{{"events", "events lists more than 100 entries"}}},
		{"a description of exactly the limit", WebhookInput{Description: new(strings.Repeat("é", MaxDescriptionLen))}, false,
			repo.WebhookPatch{Description: new(strings.Repeat("é", MaxDescriptionLen))}, nil},
		{"notification addresses are trimmed, lower-cased, deduplicated; blank lines dropped", WebhookInput{
			NotifyEmails: []string{" Ops@Acme.example ", "", "ops@acme.example", "dev@acme.example"},
			NotifyOn:     []string{"webhook.failing", "delivery.exhausted", "webhook.failing"},
		}, false, repo.WebhookPatch{NotifyEmails: []string{"ops@acme.example", "dev@acme.example"},
			NotifyOn: []string{"webhook.failing", "delivery.exhausted"}}, nil},
		{"empty lists clear them", WebhookInput{NotifyEmails: []string{}, NotifyOn: []string{}}, false,
			repo.WebhookPatch{NotifyEmails: []string{}, NotifyOn: []string{}}, nil},
		{"ten addresses at most", WebhookInput{NotifyEmails: addresses(11)}, false, repo.WebhookPatch{}, FieldErrors{
			{"notify_emails", "notify_emails lists 11 addresses; at most 10"},
		}},
		{"exactly ten", WebhookInput{NotifyEmails: addresses(10)}, false, repo.WebhookPatch{NotifyEmails: addresses(10)}, nil},
		{"a CRLF in an address would write a header", WebhookInput{NotifyEmails: []string{"ops@acme.example\r\nBcc: all@evil.example"}}, false,
			repo.WebhookPatch{}, FieldErrors{{"notify_emails", `notify_emails: "ops@acme.example" contains a line break or another control character`}}},
		{"a CRLF in a display name too", WebhookInput{NotifyEmails: []string{"Ops\r\nBcc: x@evil.example <ops@acme.example>"}}, false,
			repo.WebhookPatch{}, FieldErrors{{"notify_emails", `notify_emails: "Ops" contains a line break or another control character`}}},
		{"a display name is refused", WebhookInput{NotifyEmails: []string{"Ops <ops@acme.example>"}}, false, repo.WebhookPatch{}, FieldErrors{
			{"notify_emails", "notify_emails: give the address only, like ops@acme.example, without a name or brackets"},
		}},
		{"not an address", WebhookInput{NotifyEmails: []string{"ops at acme"}}, false, repo.WebhookPatch{}, FieldErrors{
			{"notify_emails", `notify_emails: "ops at acme" is not an email address like ops@example.com`},
		}},
		{"several addresses in one entry", WebhookInput{NotifyEmails: []string{"a@acme.example, b@acme.example"}}, false, repo.WebhookPatch{}, FieldErrors{
			{"notify_emails", `notify_emails: "a@acme.example, b@acme.example" is not an email address like ops@example.com`},
		}},
		{"an unknown notice", WebhookInput{NotifyOn: []string{"webhook.exploded"}}, false, repo.WebhookPatch{}, FieldErrors{
			{"notify_on", `notify_on: unknown notice "webhook.exploded"; one of webhook.failing, webhook.at_risk, webhook.disabled, webhook.recovered, delivery.exhausted`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.validate(tt.in, tt.creating)
			var gotErr FieldErrors
			if err != nil && !errors.As(err, &gotErr) {
				t.Fatalf("validate error %v is not FieldErrors", err)
			}
			if diff := cmp.Diff(tt.wantErr, gotErr); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("patch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFieldErrorsFor(t *testing.T) {
	t.Parallel()
	errs := FieldErrors{{"url", "bad url"}, {"events", "no events"}}
	if got := errs.For("events"); got != "no events" {
		t.Errorf("For(events) = %q", got)
	}
	if got := errs.For("description"); got != "" {
		t.Errorf("For(description) = %q, want empty", got)
	}
	if got := errs.Error(); got != "bad url; no events" {
		t.Errorf("Error() = %q", got)
	}
}

func TestGracePeriod(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   *string
		want time.Duration
		ok   bool
	}{
		{nil, 24 * time.Hour, true},
		{new("0s"), 0, true},
		{new(" 1h30m "), 90 * time.Minute, true},
		{new("168h"), MaxGracePeriod, true},
		{new("168h1s"), 0, false},
		{new("-1s"), 0, false},
		{new("tomorrow"), 0, false},
		{new(""), 0, false},
	}
	for _, tt := range tests {
		got, err := GracePeriod(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("GracePeriod(%v) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil {
			var fe FieldErrors
			if !errors.As(err, &fe) || fe[0].Field != "grace_period" {
				t.Errorf("GracePeriod(%v) error %v does not name grace_period", tt.in, err)
			}
		}
	}
}

func TestRecoverWindow(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	s := New(Config{Now: func() time.Time { return now }})
	tests := []struct {
		name         string
		since, until *string
		want         repo.RecoverWindow
		wantField    string
	}{
		{"since alone runs until now", new("2026-11-30T12:00:00Z"), nil,
			repo.RecoverWindow{Since: now.Add(-24 * time.Hour), Until: now, Limit: MaxRecover}, ""},
		{"both bounds", new("2026-11-30T12:00:00Z"), new("2026-11-30T13:00:00Z"),
			repo.RecoverWindow{Since: now.Add(-24 * time.Hour), Until: now.Add(-23 * time.Hour), Limit: MaxRecover}, ""},
		{"exactly the horizon", new("2026-11-17T12:00:00Z"), nil,
			repo.RecoverWindow{Since: now.Add(-RecoverHorizon), Until: now, Limit: MaxRecover}, ""},
		{"since missing", nil, nil, repo.RecoverWindow{}, "since"},
		{"since empty (a blank form field)", new(""), nil, repo.RecoverWindow{}, "since"},
		{"since malformed", new("yesterday"), nil, repo.RecoverWindow{}, "since"},
		{"since past the horizon", new("2026-11-17T11:59:59Z"), nil, repo.RecoverWindow{}, "since"},
		{"until malformed", new("2026-11-30T12:00:00Z"), new("soon"), repo.RecoverWindow{}, "until"},
		{"until not after since", new("2026-11-30T12:00:00Z"), new("2026-11-30T12:00:00Z"), repo.RecoverWindow{}, "until"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.RecoverWindow(tt.since, tt.until)
			var fe FieldErrors
			switch {
			case tt.wantField == "" && err != nil:
				t.Fatalf("RecoverWindow: %v", err)
			case tt.wantField != "" && (!errors.As(err, &fe) || fe[0].Field != tt.wantField):
				t.Fatalf("RecoverWindow error = %v, want one naming %s", err, tt.wantField)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("window (-want +got):\n%s", diff)
			}
		})
	}
}

// addresses is n distinct notification addresses.
func addresses(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("ops%d@acme.example", i)
	}
	return out
}
