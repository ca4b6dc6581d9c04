package noticemail

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/trackelio/webhooks/internal/delivery"
)

// section is what the mail says about one notice, as plain strings that
// the templates show as they are (the HTML escaped).
type section struct {
	Title       string // "Webhook failing"
	Good        bool   // good news: recovered
	URL         string
	Description string
	Summary     string // what happened, in a sentence or three
	Facts       []fact
	Steps       []string // what to do, in order
	Link        string   // the dashboard page
	LinkLabel   string
}

// fact is one figure: "Failing since: 2026-12-07 14:03 UTC".
type fact struct{ Label, Value string }

// The actions, named as the dashboard names them.
const (
	stepFix     = "Fix the endpoint: it must answer deliveries with a 2xx status."
	stepTest    = `Use "Send test event" on the webhook's page to check it.`
	stepRecover = `Then use "Recover what failed" on the same page to send again what failed meanwhile.`
)

// sectionFor words one notice.
func sectionFor(it Item) section {
	f := it.Figures
	s := section{
		URL:         oneLine(f.Webhook.URL),
		Description: clip(oneLine(f.Webhook.Description), 200),
		Link:        link(f.DashboardURL),
		LinkLabel:   "Open the webhook",
	}
	switch it.Notice {
	case delivery.NoticeFailing:
		s.Title = "Webhook failing"
		s.Summary = streak(f, "Deliveries to this webhook are failing") + " They are being retried."
		if f.DisableAt != nil {
			s.Summary += " If they go on failing, it will be disabled on " + when(*f.DisableAt) + "."
		}
		s.Facts = append(failureFacts(f), retryFacts(f)...)
		s.Steps = []string{stepFix, stepTest, stepRecover}
	case delivery.NoticeAtRisk:
		s.Title = "Webhook at risk of being disabled"
		s.Summary = streak(f, "Deliveries to this webhook keep failing")
		if f.DisableAt != nil {
			s.Title = "Webhook will be disabled on " + f.DisableAt.UTC().Format(time.DateOnly)
			s.Summary += " It will be disabled on " + when(*f.DisableAt) + " if every attempt until then fails."
		} else {
			s.Summary += " It will soon be disabled if they go on failing."
		}
		s.Facts = append(failureFacts(f), retryFacts(f)...)
		s.Steps = []string{stepFix, stepTest, stepRecover}
	case delivery.NoticeDisabled:
		s.Title = "Webhook disabled"
		s.Summary = disabledSummary(f) + " It gets no deliveries until it is re-enabled."
		s.Facts = disabledFacts(f)
		s.Steps = []string{
			"Fix the endpoint, or change the webhook's URL if the endpoint has moved.",
			`Re-enable the webhook on its page; re-enabling offers to "Recover what failed" while it was off.`,
			`Use "Send test event" to check that it works.`,
		}
	case delivery.NoticeRecovered:
		s.Title = "Webhook recovered"
		s.Good = true
		s.Summary = `This webhook works again: deliveries to it resume. Deliveries that gave up while it was failing are not sent again by themselves; "Recover what failed" on its page sends them.`
		if !it.At.IsZero() {
			s.Facts = []fact{{"Recovered at", when(it.At)}}
		}
	case delivery.NoticeExhausted:
		s.Title = "Delivery gave up"
		s.LinkLabel = "Open the delivery"
		s.Summary, s.Facts = exhausted(f.Delivery)
		s.Steps = []string{
			"Fix the endpoint if it is failing.",
			stepTest,
			`Then use "Recover what failed" to send this delivery again.`,
		}
	default:
		s.Title = "Webhook notice (" + clip(oneLine(string(it.Notice)), 40) + ")"
		s.Summary = "The state of this webhook changed."
		if state := oneLine(f.State); state != "" {
			s.Summary = "This webhook is now " + state + "."
		}
		s.Facts = failureFacts(f)
	}
	return s
}

// streak is the opening sentence about a failure streak: lead, and how
// long it has lasted when known.
func streak(f delivery.Figures, lead string) string {
	switch {
	case f.ConsecutiveFailures > 0 && f.FailingSince != nil:
		return fmt.Sprintf("%s: %s in a row since %s.", lead, count(f.ConsecutiveFailures, "failure", "failures"), when(*f.FailingSince))
	case f.ConsecutiveFailures > 0:
		return fmt.Sprintf("%s: %s in a row.", lead, count(f.ConsecutiveFailures, "failure", "failures"))
	case f.FailingSince != nil:
		return fmt.Sprintf("%s, since %s.", lead, when(*f.FailingSince))
	}
	return lead + "."
}

// failureFacts are the figures of a failure streak that are known.
func failureFacts(f delivery.Figures) []fact {
	var facts []fact
	if f.FailingSince != nil {
		facts = append(facts, fact{"Failing since", when(*f.FailingSince)})
	}
	if f.ConsecutiveFailures > 0 {
		facts = append(facts, fact{"Failures in a row", strconv.Itoa(f.ConsecutiveFailures)})
	}
	if f.LastFailureAt != nil {
		facts = append(facts, fact{"Last failure", when(*f.LastFailureAt)})
	}
	if f.ConsecutiveFailures > 0 || f.LastFailureAt != nil || f.LastStatusCode != nil {
		facts = append(facts, fact{"Last response", response(f.LastStatusCode)})
	}
	if e := errorText(f.LastError); e != "" {
		facts = append(facts, fact{"Last error", e})
	}
	return facts
}

// retryFacts are when the next attempt is and when the webhook will be
// disabled, when known.
func retryFacts(f delivery.Figures) []fact {
	var facts []fact
	if f.NextAttemptAt != nil {
		facts = append(facts, fact{"Next attempt", when(*f.NextAttemptAt)})
	}
	if f.DisableAt != nil {
		facts = append(facts, fact{"Will be disabled", when(*f.DisableAt) + ", if every attempt until then fails"})
	}
	return facts
}

// disabledSummary says why the webhook was disabled.
func disabledSummary(f delivery.Figures) string {
	switch reason(f) {
	case "gone":
		return "This webhook was disabled because its endpoint answered 410 Gone, which says it is no longer there."
	case "failing":
		return streak(f, "This webhook was disabled because its deliveries kept failing")
	}
	return "This webhook was disabled."
}

// disabledFacts are the figures of a disabled webhook that are known.
func disabledFacts(f delivery.Figures) []fact {
	var facts []fact
	if f.DisabledAt != nil {
		facts = append(facts, fact{"Disabled at", when(*f.DisabledAt)})
	}
	switch r := reason(f); r {
	case "":
	case "gone":
		facts = append(facts, fact{"Reason", "the endpoint answered 410 Gone"})
	case "failing":
		facts = append(facts, fact{"Reason", "its deliveries kept failing"})
	default:
		facts = append(facts, fact{"Reason", clip(r, 100)})
	}
	return append(facts, failureFacts(f)...)
}

// reason is the disabled reason, "" when unknown.
func reason(f delivery.Figures) string {
	if f.DisabledReason == nil {
		return ""
	}
	return oneLine(*f.DisabledReason)
}

// exhausted words a delivery that ran out of attempts; d may be nil when
// the figures lack it.
func exhausted(d *delivery.NoticeDelivery) (string, []fact) {
	if d == nil {
		return "A delivery to this webhook gave up: it will not be retried.", nil
	}
	event := clip(oneLine(d.EventType), 100)
	what := "A delivery"
	if event != "" {
		what = "A delivery of a " + event + " event"
	}
	summary := what + " to this webhook gave up: it will not be retried."
	if d.Attempts > 0 {
		summary = fmt.Sprintf("%s to this webhook gave up after %s: it will not be retried.", what, count(d.Attempts, "attempt", "attempts"))
	}
	var facts []fact
	if event != "" || d.EventID != "" {
		facts = append(facts, fact{"Event", strings.TrimSpace(event + " " + parenthesised(oneLine(d.EventID)))})
	}
	if id := oneLine(d.ID); id != "" {
		facts = append(facts, fact{"Delivery", id})
	}
	if d.Attempts > 0 {
		facts = append(facts, fact{"Attempts", strconv.Itoa(d.Attempts)})
	}
	facts = append(facts, fact{"Last response", response(d.LastStatusCode)})
	if e := errorText(d.LastError); e != "" {
		facts = append(facts, fact{"Last error", e})
	}
	if !d.FinishedAt.IsZero() {
		facts = append(facts, fact{"Gave up at", when(d.FinishedAt)})
	}
	return summary, facts
}

// parenthesised is "(s)", or "" for "".
func parenthesised(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}

// response names an attempt's answer: "HTTP 503 Service Unavailable", or
// "no response" when it got none.
func response(code *int) string {
	if code == nil {
		return "no response"
	}
	if text := http.StatusText(*code); text != "" {
		return fmt.Sprintf("HTTP %d %s", *code, text)
	}
	return fmt.Sprintf("HTTP %d", *code)
}

// errorText is a last error fit for one line, "" for none.
func errorText(e *string) string {
	if e == nil {
		return ""
	}
	return clip(oneLine(*e), 300)
}

// when formats a time for people anywhere: "2026-12-07 14:03 UTC".
func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// link is an http(s) URL fit to show and follow, "" for anything else:
// a link the HTML template would neuter is better left out of both
// bodies.
func link(u string) string {
	if strings.ContainsFunc(u, unicode.IsSpace) || strings.ContainsFunc(u, unicode.IsControl) ||
		!strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return ""
	}
	return u
}

// oneLine makes s one line of text: control characters and line or
// paragraph separators become spaces, and runs of spaces one. A webhook's
// URL and description are the customer's and may be hostile; in a
// subject a line break would start a header of theirs.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp, unicode.Cf)
	}), " ")
}

// clip shortens s to at most n runes, marking the cut with an ellipsis.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
