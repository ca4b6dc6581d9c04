package dashboard

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/repo"
)

// noticesShown is how many of a webhook's latest notices its page lists.
const noticesShown = 20

// noticesView is the webhook page's Failure notices: where they are mailed,
// and the latest ones with each mail's fate.
type noticesView struct {
	Emails []string
	Kinds  []string // the labels of the notices mailed
	Rows   []noticeRow
}

// noticeRow is one notice: when, which, and where it went.
type noticeRow struct {
	At     time.Time
	Kind   noticeKind
	Detail string
	// DeliveryID is the delivery that gave up, for delivery.exhausted.
	DeliveryID string
	Mails      []mailView
	// NoMail says why no mail is listed.
	NoMail string
}

// mailView is a notice's mail to one address.
type mailView struct {
	Address string
	Status  badge
	Detail  string
}

// notices reads the webhook's latest notices and their mails.
func (d *Dashboard) notices(ctx context.Context, hook repo.Webhook) (noticesView, error) {
	v := noticesView{Emails: hook.NotifyEmails}
	for _, k := range noticeKinds {
		for _, on := range hook.NotifyOn {
			if on == string(k.Type) {
				v.Kinds = append(v.Kinds, k.Label)
			}
		}
	}
	ns, err := d.store.WebhookNotices(ctx, hook.WorkspaceID, hook.ID, noticesShown)
	if err != nil || len(ns) == 0 {
		return v, err
	}
	ids := make([]string, len(ns))
	for i, n := range ns {
		ids[i] = n.ID
	}
	mails, err := d.store.NoticeMails(ctx, hook.WorkspaceID, ids)
	if err != nil {
		return v, err
	}
	byNotice := map[string][]mailView{}
	for _, m := range mails {
		byNotice[m.NoticeID] = append(byNotice[m.NoticeID], newMailView(m))
	}
	for _, n := range ns {
		row := noticeRow{At: n.CreatedAt, Kind: kindOf(n.Kind), Detail: noticeDetail(n.Kind, n.Figures), Mails: byNotice[n.ID]}
		if dl := n.Figures.Delivery; dl != nil {
			row.DeliveryID = dl.ID
		}
		switch {
		case len(row.Mails) > 0:
		case n.DispatchedAt == nil:
			row.NoMail = "being sent"
		default:
			row.NoMail = "not mailed: no address gets this kind of notice"
		}
		v.Rows = append(v.Rows, row)
	}
	return v, nil
}

// newMailView says where a mail stands in words.
func newMailView(m repo.NoticeMail) mailView {
	v := mailView{Address: m.Address}
	switch m.Status {
	case repo.MailSent:
		v.Status = badge{Class: "ok", Label: "Sent"}
	case repo.MailPending:
		v.Status = badge{Class: "pending", Label: "Waiting to be sent"}
		if m.Attempts > 0 {
			v.Status.Label = "Waiting to retry"
			v.Detail = fmt.Sprintf("%d %s failed", m.Attempts, plural(m.Attempts, "attempt", "attempts"))
			if m.LastError != nil {
				v.Detail += ": " + excerpt(*m.LastError, 120)
			}
		}
	case repo.MailFailed:
		v.Status = badge{Class: "fail", Label: "Failed"}
		if m.LastError != nil {
			v.Detail = excerpt(*m.LastError, 120)
		}
	case repo.MailDropped:
		v.Status = badge{Class: "muted", Label: "Not sent"}
		v.Detail = "the address unsubscribed"
	default:
		v.Status = badge{Class: "muted", Label: string(m.Status)}
	}
	return v
}

// noticeDetail sums a notice's figures up in a line.
func noticeDetail(kind delivery.Notice, f delivery.Figures) string {
	streak := ""
	if n := f.ConsecutiveFailures; n > 0 {
		streak = fmt.Sprintf("%d failed %s in a row", n, plural(n, "attempt", "attempts"))
	}
	switch kind {
	case delivery.NoticeFailing, delivery.NoticeAtRisk:
		return clause(streak, lastAnswer(f.LastStatusCode, f.LastError))
	case delivery.NoticeDisabled:
		if f.DisabledReason != nil && *f.DisabledReason == delivery.DisabledGone {
			return "The endpoint answered 410 Gone."
		}
		return clause("It kept failing", streak, lastAnswer(f.LastStatusCode, f.LastError))
	case delivery.NoticeRecovered:
		if streak != "" {
			return "After " + streak + "."
		}
	case delivery.NoticeExhausted:
		if dl := f.Delivery; dl != nil {
			return clause(fmt.Sprintf("%s gave up after %d %s", dl.EventType, dl.Attempts, plural(dl.Attempts, "attempt", "attempts")),
				lastAnswer(dl.LastStatusCode, dl.LastError))
		}
	}
	return ""
}

// lastAnswer says what the last failed attempt got, "" when unknown.
func lastAnswer(code *int, reason *string) string {
	switch {
	case code != nil:
		return fmt.Sprintf("the last answered %d", *code)
	case reason != nil:
		return "the last got no answer: " + excerpt(*reason, 80)
	}
	return ""
}

// clause joins the parts that say something into a sentence, as they are
// written: an event type may start it.
func clause(parts ...string) string {
	s := ""
	for _, p := range parts {
		if p == "" {
			continue
		}
		if s != "" {
			s += "; "
		}
		s += p
	}
	if s == "" || strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}
