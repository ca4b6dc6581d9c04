package dashboard

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/repo"
)

// badge is a state shown as a coloured dot and words: the colour is never
// the only signal.
type badge struct {
	Class  string // a CSS modifier
	Label  string
	Detail string
}

// webhookHealth says at a glance whether a webhook gets its deliveries.
func webhookHealth(h delivery.Health) badge {
	switch h.State() {
	case delivery.Disabled:
		return disabledBadge(h.DisabledReason)
	case delivery.Failing:
		if h.ConsecutiveFailures == 1 {
			return badge{"failing", "Active", "the last attempt failed"}
		}
		return badge{"failing", "Active", fmt.Sprintf("the last %d attempts failed", h.ConsecutiveFailures)}
	default:
		return badge{"healthy", "Active", ""}
	}
}

// disabledBadge says who switched a webhook off, and why.
func disabledBadge(reason string) badge {
	switch reason {
	case "": // the customer
		return badge{"inactive", "Inactive", ""}
	case delivery.DisabledGone:
		return badge{"disabled", "Inactive", "disabled: the endpoint answered 410 Gone"}
	case delivery.DisabledFailing:
		return badge{"disabled", "Inactive", "disabled: it kept failing"}
	default:
		return badge{"disabled", "Inactive", "disabled: " + reason}
	}
}

// deliveryOutcome names where a delivery stands.
func deliveryOutcome(d repo.Delivery) badge {
	switch {
	case d.Status == delivery.StatusSucceeded:
		return badge{Class: "ok", Label: "Succeeded"}
	case d.Status == delivery.StatusFailed:
		return badge{Class: "fail", Label: "Failed"}
	case d.Status == delivery.StatusCancelled:
		return badge{Class: "muted", Label: "Cancelled"}
	default:
		// One word for the one state, as the API names it; how far its
		// attempts have gone is shown beside it.
		return badge{Class: "pending", Label: "Pending"}
	}
}

// attemptsView says where a delivery stands in its attempts: Made of Max,
// and while it is pending, when the next one is due and when the last one
// would be if every attempt fails (GivesUp, nil when the next is the last).
type attemptsView struct {
	Made, Max int
	Next      *time.Time
	GivesUp   *time.Time
}

// attempts reads a delivery's attempts against the retry policy the workers
// run with (RETRY_SCHEDULE).
func (d *Dashboard) attempts(dl repo.Delivery) attemptsView {
	a := attemptsView{Made: dl.Attempts, Max: max(d.retry.MaxAttemptsFor(dl.EventType), dl.Attempts)}
	if next := dl.NextAttemptAt; next != nil && dl.Status == delivery.StatusPending {
		a.Next = next
		if last := d.retry.LastAttemptAround(*next, dl.Attempts, dl.EventType); last.After(*next) {
			a.GivesUp = &last
		}
	}
	return a
}

// failedAttempts is the delivery's failure count: every attempt failed but
// a successful last one.
func failedAttempts(d repo.Delivery) int {
	if d.Status == delivery.StatusSucceeded {
		return d.Attempts - 1
	}
	return d.Attempts
}

// text shows stored bytes as text: invalid UTF-8 becomes U+FFFD, and the
// template escapes the rest, so a receiver's answer never becomes markup.
func text(b []byte) string {
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// excerpt is the start of a text, at most n characters, on one line.
func excerpt(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// orNone is what p points to, or the zero value (no status code, no
// error) when nothing was stored.
func orNone[T any](p *T) T {
	if p == nil {
		var none T
		return none
	}
	return *p
}
