package dashboard

import (
	"fmt"
	"time"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/repo"
)

// attentionGroup is one line of Workspaces > Webhooks' banner: the webhooks
// in one kind of trouble, counted in words, each linked.
type attentionGroup struct {
	Class    string // disabled, at-risk, failing
	Sentence string
	Hooks    []attentionHook
}

// attentionHook is a webhook the banner names, with what happened when.
type attentionHook struct {
	ID, URL string
	Detail  string // what At is: "failing since", "will be disabled", "disabled"
	At      *time.Time
	Reason  string // why the service disabled it
}

// attention groups the webhooks that need their owners: disabled by the
// service, then failing close to being disabled, then failing. A streak is
// named once the notices have told it (NoticeStage), so one failed attempt
// raises no banner; a webhook its owner switched off raises none either.
// No such webhook is no banner: nil.
func attention(hooks []repo.Webhook, disable delivery.AutoDisable) []attentionGroup {
	disabled := attentionGroup{Class: "disabled"}
	atRisk := attentionGroup{Class: "at-risk"}
	failing := attentionGroup{Class: "failing"}
	for _, h := range hooks {
		a := attentionHook{ID: h.ID, URL: h.URL, Detail: "failing since", At: h.FailingSince}
		switch {
		case !h.Active && h.DisabledReason != "":
			a.Detail, a.At, a.Reason = "disabled", h.DisabledAt, disabledWhy(h.DisabledReason)
			disabled.Hooks = append(disabled.Hooks, a)
		case h.State() != delivery.Failing:
		case h.NoticeStage == delivery.StageAtRisk:
			if at, ok := disable.DisableAt(h.Health); ok {
				a.Detail, a.At = "will be disabled", &at
			}
			atRisk.Hooks = append(atRisk.Hooks, a)
		case h.NoticeStage == delivery.StageFailing:
			failing.Hooks = append(failing.Hooks, a)
		}
	}
	var out []attentionGroup
	for _, g := range []attentionGroup{disabled, atRisk, failing} {
		if n := len(g.Hooks); n > 0 {
			g.Sentence = attentionSentence(g.Class, n)
			out = append(out, g)
		}
	}
	return out
}

// attentionSentence counts a group's webhooks in words.
func attentionSentence(class string, n int) string {
	switch class {
	case "disabled":
		return fmt.Sprintf("%d %s disabled after failing", n, plural(n, "webhook was", "webhooks were"))
	case "at-risk":
		return fmt.Sprintf("%d %s failing and will be disabled soon", n, plural(n, "webhook is", "webhooks are"))
	}
	return fmt.Sprintf("%d %s failing", n, plural(n, "webhook is", "webhooks are"))
}

// disabledWhy says why the service disabled a webhook, after the time.
func disabledWhy(reason string) string {
	switch reason {
	case delivery.DisabledGone:
		return "— its endpoint answered 410 Gone"
	case delivery.DisabledFailing:
		return "— it kept failing"
	}
	return "— " + reason
}
