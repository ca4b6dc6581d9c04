package dashboard

import (
	"fmt"
	"time"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/repo"
)

// troubleView says, at the top of a failing or disabled webhook's page,
// what is wrong, since when, what happens next, and what to do.
type troubleView struct {
	WebhookID, CSRF string
	Class           string // failing, at-risk, disabled
	Heading, Lead   string
	FailingSince    *time.Time
	Lasting         string // how long an active one has been failing, in words
	Failures        int
	LastFailure     *failureView
	// Active webhooks: the next attempt, how many wait, and when the
	// workers' auto-disable switches it off (a time, or after how many
	// more failures when the streak is old enough but short of them).
	NextAttemptAt *time.Time
	Waiting       string
	DisableAt     *time.Time
	DisableAfter  string
	// Disabled webhooks: when, and how many deliveries ended meanwhile.
	Disabled   bool
	DisabledAt *time.Time
	Ended      int
	// Fix is the first step's advice; Recover the form of the last step
	// of an active webhook, nil when nothing ran out of attempts.
	Fix     string
	Recover *recoverForm
}

// failureView is the attempt that failed last.
type failureView struct {
	DeliveryID string
	StatusCode int
	Error      string
	At         time.Time
}

// recoverForm re-sends what ended without success in [Since, Until).
type recoverForm struct {
	WebhookID, CSRF string
	Since, Until    time.Time
	Button          string
}

// inTrouble says whether a webhook's page opens with its trouble: it is
// active with a failure streak, or the service disabled it. One its owner
// switched off is no trouble.
func inTrouble(h delivery.Health) bool {
	return h.State() == delivery.Failing || !h.Active && h.DisabledReason != ""
}

// newTroubleView describes a webhook in trouble at now from its health, what
// WebhookTrouble read, and the workers' auto-disable policy.
func newTroubleView(hook repo.Webhook, t repo.Trouble, disable delivery.AutoDisable, csrf string, now time.Time) *troubleView {
	h := hook.Health
	v := &troubleView{
		WebhookID: hook.ID, CSRF: csrf, Failures: h.ConsecutiveFailures, FailingSince: h.FailingSince,
		Fix: "Make " + hook.URL + " answer Trackelio's POST requests with a 2xx status code.",
	}
	// How long it has been failing, while it is: a disabled webhook's
	// streak stopped when it was disabled.
	if h.FailingSince != nil && h.Active {
		v.Lasting = lasting(now.Sub(*h.FailingSince))
	}
	if f := t.LastFailure; f != nil {
		v.LastFailure = &failureView{DeliveryID: f.DeliveryID, StatusCode: orNone(f.StatusCode), Error: orNone(f.Error), At: f.At}
	}
	if !h.Active {
		v.Class, v.Disabled, v.DisabledAt, v.Ended = "disabled", true, h.DisabledAt, t.Ended
		v.Lead = "It gets no deliveries until it is re-enabled; events that occur meanwhile are not queued for it."
		switch h.DisabledReason {
		case delivery.DisabledGone:
			v.Heading = "Trackelio disabled this webhook: its endpoint answered 410 Gone"
			v.Fix = "A 410 Gone says the endpoint was removed for good, so Trackelio stopped at once. If " + hook.URL +
				" is back, or answered 410 by mistake, make it answer with a 2xx status code; otherwise change the URL in Settings."
		case delivery.DisabledFailing:
			v.Heading = "Trackelio disabled this webhook: it kept failing"
		default:
			v.Heading = "Trackelio disabled this webhook: " + h.DisabledReason
		}
		return v
	}
	v.Class, v.Heading = "failing", "This webhook is failing"
	v.Lead = "Deliveries are retried on their schedule, but none gets through until the endpoint answers with a 2xx status code."
	if hook.NoticeStage == delivery.StageAtRisk {
		v.Class, v.Heading = "at-risk", "This webhook is failing and will be disabled soon"
	}
	v.NextAttemptAt, v.Waiting = t.NextAttemptAt, waiting(t.Pending)
	if at, ok := disable.DisableAt(h); ok {
		if at.After(now) {
			v.DisableAt = &at
		} else {
			// The streak is old enough; the failure that makes it long
			// enough disables it.
			v.DisableAfter = disabledAfter(disable.MinFailures - h.ConsecutiveFailures)
		}
	}
	if t.RecoverSince != nil && t.Ended > 0 {
		v.Recover = &recoverForm{WebhookID: hook.ID, CSRF: csrf, Since: *t.RecoverSince, Until: now,
			Button: fmt.Sprintf("Recover %d %s", t.Ended, plural(t.Ended, "delivery", "deliveries"))}
		// A recovery reaches back RecoverHorizon at most, a minute inside so
		// the form is still accepted when it is sent.
		if horizon := now.Add(-manage.RecoverHorizon + time.Minute); v.Recover.Since.Before(horizon) {
			v.Recover.Since, v.Recover.Button = horizon, "Recover what failed in the last 14 days"
		}
	}
	return v
}

// waiting says how many deliveries wait for an attempt.
func waiting(n int) string {
	switch n {
	case 0:
		return "no delivery is waiting"
	case 1:
		return "1 delivery is waiting"
	}
	return fmt.Sprintf("%d deliveries are waiting", n)
}

// disabledAfter says after how many more failed attempts a webhook is
// disabled.
func disabledAfter(n int) string {
	if n <= 1 {
		return "by its next failed attempt"
	}
	return fmt.Sprintf("after %d more failed attempts", n)
}

// lasting says how long something has gone on, in the largest whole unit.
func lasting(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "for less than a minute"
	case d < time.Hour:
		n := int(d / time.Minute)
		return fmt.Sprintf("for %d %s", n, plural(n, "minute", "minutes"))
	case d < 48*time.Hour:
		n := int(d / time.Hour)
		return fmt.Sprintf("for %d %s", n, plural(n, "hour", "hours"))
	}
	return fmt.Sprintf("for %d days", int(d/(24*time.Hour)))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
