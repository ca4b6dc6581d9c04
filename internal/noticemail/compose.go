// Package noticemail writes the mail that tells a webhook's owners its
// health changed: the subject, a plain-text body and an HTML body, from
// the notices and their figures. It is pure: it sends nothing (package
// mailer does) and decides nothing about when to send.
package noticemail

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/trackelio/webhooks/internal/delivery"
)

// Item is one notice to tell, with the figures taken when it was decided
// at At.
type Item struct {
	Notice  delivery.Notice
	Figures delivery.Figures
	At      time.Time
}

// Content is a composed mail.
type Content struct {
	Subject string
	Text    string
	HTML    string
}

// Compose writes the mail about items to one recipient, a notification
// address of webhooks in workspace: about that webhook for one item, a
// digest for several, most severe first. unsubscribeURL ("" for none)
// goes in the footer. Whatever the figures hold, the subject is one line
// of at most maxSubject runes, and the HTML shows every value as text.
func Compose(workspace string, items []Item, unsubscribeURL string) Content {
	items = slices.Clone(items)
	slices.SortStableFunc(items, func(a, b Item) int { return severity(a.Notice) - severity(b.Notice) })
	v := view{
		Workspace:      oneLine(workspace),
		UnsubscribeURL: link(unsubscribeURL),
	}
	for _, it := range items {
		v.Sections = append(v.Sections, sectionFor(it))
	}
	if len(items) == 1 {
		v.Subject = items[0].subject()
	} else {
		v.Subject = digestSubject(v.Workspace, items)
		v.Intro = "What changed for " + digestLead(v.Workspace, items) + ", most urgent first."
	}
	v.Why = why(v.Workspace, webhookCount(items))
	return Content{Subject: v.Subject, Text: render(textMail, v), HTML: render(htmlMail, v)}
}

// severity orders the notices of a digest: what needs action soonest
// first.
func severity(n delivery.Notice) int {
	switch n {
	case delivery.NoticeDisabled:
		return 0
	case delivery.NoticeAtRisk:
		return 1
	case delivery.NoticeFailing:
		return 2
	case delivery.NoticeExhausted:
		return 3
	case delivery.NoticeRecovered:
		return 4
	}
	return 5
}

// maxSubject bounds a subject, in runes; mail clients show far less.
const maxSubject = 200

// subject is the subject of a mail about this item alone.
func (it Item) subject() string {
	f := it.Figures
	url := oneLine(f.Webhook.URL)
	switch it.Notice {
	case delivery.NoticeFailing:
		return fitSubject("Webhook failing: ", url, failingSuffix(f, it.At))
	case delivery.NoticeAtRisk:
		if f.DisableAt == nil {
			return fitSubject("Webhook at risk of being disabled: ", url, "")
		}
		return fitSubject("Webhook will be disabled on "+f.DisableAt.UTC().Format(time.DateOnly)+": ", url, "")
	case delivery.NoticeDisabled:
		if f.DisabledReason != nil && *f.DisabledReason == "gone" {
			return fitSubject("Webhook disabled: ", url, " (410 Gone)")
		}
		return fitSubject("Webhook disabled: ", url, "")
	case delivery.NoticeRecovered:
		return fitSubject("Webhook recovered: ", url, "")
	case delivery.NoticeExhausted:
		if f.Delivery == nil || oneLine(f.Delivery.EventType) == "" {
			return fitSubject("Delivery gave up: ", url, "")
		}
		return fitSubject("Delivery gave up: "+clip(oneLine(f.Delivery.EventType), 60)+" to ", url, "")
	}
	return fitSubject("Webhook notice: ", url, " ("+clip(oneLine(string(it.Notice)), 40)+")")
}

// failingSuffix is "(12 failures since 14:03 UTC)", with the date when the
// streak did not start the day the notice was decided.
func failingSuffix(f delivery.Figures, at time.Time) string {
	var since string
	if f.FailingSince != nil {
		s := f.FailingSince.UTC()
		since = s.Format("2006-01-02 15:04 UTC")
		if s.Format(time.DateOnly) == at.UTC().Format(time.DateOnly) {
			since = s.Format("15:04 UTC")
		}
	}
	switch {
	case f.ConsecutiveFailures > 0 && since != "":
		return fmt.Sprintf(" (%s since %s)", count(f.ConsecutiveFailures, "failure", "failures"), since)
	case f.ConsecutiveFailures > 0:
		return fmt.Sprintf(" (%s)", count(f.ConsecutiveFailures, "failure", "failures"))
	case since != "":
		return " (since " + since + ")"
	}
	return ""
}

// digestSubject is "3 webhooks in Acme changed state (1 disabled, 2
// failing)".
func digestSubject(workspace string, items []Item) string {
	lead := digestLead("", items)
	tail := ""
	if parts := tally(items); len(parts) > 0 {
		tail = " (" + strings.Join(parts, ", ") + ")"
	}
	if workspace == "" {
		return fitSubject(lead+" changed state", "", tail)
	}
	return fitSubject(lead+" in ", workspace, " changed state"+tail)
}

// digestLead is "3 webhooks in workspace Acme".
func digestLead(workspace string, items []Item) string {
	lead := count(webhookCount(items), "webhook", "webhooks")
	if workspace != "" {
		lead += " in workspace " + workspace
	}
	return lead
}

// tally counts the notices of a digest by kind, most severe first.
func tally(items []Item) []string {
	var parts []string
	for i := 0; i < len(items); {
		n := items[i].Notice
		j := i
		for j < len(items) && items[j].Notice == n {
			j++
		}
		switch n {
		case delivery.NoticeDisabled:
			parts = append(parts, fmt.Sprintf("%d disabled", j-i))
		case delivery.NoticeAtRisk:
			parts = append(parts, fmt.Sprintf("%d at risk", j-i))
		case delivery.NoticeFailing:
			parts = append(parts, fmt.Sprintf("%d failing", j-i))
		case delivery.NoticeExhausted:
			parts = append(parts, count(j-i, "delivery", "deliveries")+" gave up")
		case delivery.NoticeRecovered:
			parts = append(parts, fmt.Sprintf("%d recovered", j-i))
		}
		i = j
	}
	return parts
}

// webhookCount is how many webhooks the items are about.
func webhookCount(items []Item) int {
	seen := map[string]bool{}
	for _, it := range items {
		key := it.Figures.Webhook.ID
		if key == "" {
			key = it.Figures.Webhook.URL
		}
		seen[key] = true
	}
	return len(seen)
}

// why is the footer's reason for the mail.
func why(workspace string, webhooks int) string {
	what := "a webhook"
	if webhooks > 1 {
		what = "webhooks"
	}
	if workspace != "" {
		what += " in workspace " + workspace
	}
	return "You get this mail because your address is listed as a notification address of " + what + "."
}

// fitSubject joins prefix, middle and suffix, shortening middle (a URL,
// a workspace's name) so the whole fits maxSubject runes, and the whole
// if it still does not.
func fitSubject(prefix, middle, suffix string) string {
	room := maxSubject - len([]rune(prefix)) - len([]rune(suffix))
	return clip(prefix+clip(middle, max(room, 1))+suffix, maxSubject)
}

// count is "1 failure" or "12 failures".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
