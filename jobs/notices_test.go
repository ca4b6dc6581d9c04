package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/mailer"
	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/internal/queuetest"
	"github.com/trackelio/webhooks/internal/smtptest"
	"github.com/trackelio/webhooks/internal/testclock"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/jobs"
	"github.com/trackelio/webhooks/metrics"
	"github.com/trackelio/webhooks/repo"
)

// noticeFixture is a workspace whose webhooks mail their notices to two
// addresses through a real SMTP server, with STARTTLS and a password, and
// an operational endpoint; tasks go to a private Redis database.
type noticeFixture struct {
	*fixture
	smtp     *smtptest.Server
	h        *jobs.NoticeHandlers
	insp     *asynq.Inspector
	clock    *testclock.Clock
	opsHooks []repo.Webhook
	logs     logBuffer
}

// logBuffer collects the handlers' log lines from concurrent goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

const (
	publicURL = "https://webhooks.example"
	smtpUser  = "notices"
	smtpPass  = "s3cret-pass"
)

func setupNotices(tb testing.TB) *noticeFixture {
	tb.Helper()
	f := &noticeFixture{fixture: setup(tb), clock: testclock.New(time.Now())}
	f.smtp = smtptest.New(tb, smtptest.Config{Mode: smtptest.StartTLS, User: smtpUser, Password: smtpPass})
	cfg, err := mailer.Parse(f.smtp.URL(), "Trackelio <notices@trackelio.example>")
	if err != nil {
		tb.Fatal(err)
	}
	cfg.RootCAs = f.smtp.CertPool()
	redis := newRedis(tb)
	client := queuetest.NewClient(tb, redis)
	f.insp = queuetest.NewInspector(tb, redis)
	ctx := context.Background()
	if _, err := f.store.EnsureOperational(ctx, []repo.OperationalEndpoint{{URL: "https://ops.example/", Secret: "whsec_x"}},
		[]string{string(delivery.NoticeFailing), string(delivery.NoticeRecovered)}); err != nil {
		tb.Fatal(err)
	}
	ops, _, _ := f.store.OperationalWorkspace(ctx)
	f.opsHooks, _ = f.store.Webhooks(ctx, ops)
	svc := manage.New(manage.Config{Store: f.store, Enqueuer: jobs.NewDeliveryQueue(client, f.metrics), Metrics: f.metrics})
	tb.Cleanup(svc.Wait)
	f.h = jobs.NewNoticeHandlers(jobs.NoticeConfig{
		Store: f.store, Publisher: svc, Mailer: mailer.New(cfg), Queue: client, PublicURL: publicURL,
		DigestWindow: time.Second, Metrics: f.metrics, Log: slog.New(slog.NewJSONHandler(&f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Now: f.clock.Now,
	})
	f.notify(tb, f.hook.ID, []string{"ops@acme.example", "dev@acme.example"})
	// Whatever a test did, no address and no secret of the relay reached
	// the logs.
	tb.Cleanup(func() {
		logs := f.logs.String()
		for _, secret := range []string{"ops@acme.example", "dev@acme.example", smtpPass} {
			if strings.Contains(strings.ToLower(logs), secret) {
				tb.Errorf("the logs hold %q:\n%s", secret, logs)
			}
		}
		if !strings.Contains(logs, "notice dispatched") {
			tb.Errorf("the logs were not captured:\n%s", logs)
		}
	})
	return f
}

// notify sets a webhook's notification addresses.
func (f *noticeFixture) notify(tb testing.TB, webhookID string, emails []string) {
	tb.Helper()
	if _, err := f.store.UpdateWebhook(context.Background(), f.ws.ID, webhookID, repo.WebhookPatch{NotifyEmails: emails}); err != nil {
		tb.Fatal(err)
	}
}

// failOnce records a failed first attempt of a new delivery to the
// webhook, under a policy that tells on the first failure, and returns the
// notices it decided.
func (f *noticeFixture) failOnce(tb testing.TB, hook repo.Webhook) []string {
	tb.Helper()
	ev := repo.NewEvent{WorkspaceID: f.ws.ID, Type: hook.Events[0]}
	id := testfactory.Delivery(tb, f.store, ev, `{}`)
	return testfactory.Record(tb, f.store, repo.AttemptResult{
		DeliveryID: id, Attempt: 1, StatusCode: 503, Error: "receiver answered 503", At: f.clock.Now(),
		NewStatus: delivery.StatusPending, NextAttemptAt: f.clock.Now().Add(time.Minute), Notices: delivery.NoticePolicy{FailingAfter: 1},
	}).Notices
}

// oneMailDue leaves one mail due, to ops@acme.example alone: a failing
// notice dispatched and its digest window over.
func (f *noticeFixture) oneMailDue(tb testing.TB) {
	tb.Helper()
	f.notify(tb, f.hook.ID, []string{"ops@acme.example"})
	f.dispatch(tb, f.failOnce(tb, f.hook)[0])
	f.clock.Advance(time.Second)
}

func (f *noticeFixture) dispatch(tb testing.TB, id string) {
	tb.Helper()
	task, err := jobs.NewNoticeTask(id)
	if err != nil {
		tb.Fatal(err)
	}
	if err := f.h.Dispatch(context.Background(), task); err != nil {
		tb.Fatalf("Dispatch(%s): %v", id, err)
	}
}

// mail runs the workspace's mail task as asynq would at its due time.
func (f *noticeFixture) mail(tb testing.TB) error {
	tb.Helper()
	task, err := jobs.NewMailTask(f.ws.ID, f.clock.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return f.h.Mail(context.Background(), task)
}

// received is a mail as the SMTP server got it, parsed.
type received struct {
	To, Subject, Text, HTML string
	Header                  mail.Header
}

func parseMail(tb testing.TB, r smtptest.Received) received {
	tb.Helper()
	if len(r.To) != 1 {
		tb.Fatalf("envelope recipients %v; want exactly one", r.To)
	}
	m, err := mail.ReadMessage(bytes.NewReader(r.Data))
	if err != nil {
		tb.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		tb.Fatal(err)
	}
	out := received{To: r.To[0], Subject: subject, Header: m.Header}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		tb.Fatal(err)
	}
	parts := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := parts.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		var body io.Reader = p
		if p.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
			body = quotedprintable.NewReader(p)
		}
		b, _ := io.ReadAll(body)
		switch ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct {
		case "text/plain":
			out.Text = string(b)
		case "text/html":
			out.HTML = string(b)
		}
	}
	return out
}

// A failing notice goes to the operational endpoint once and, after the
// digest window, to each address once, by a real SMTP session, with both
// bodies and a one-click unsubscribe link.
func TestNoticeDispatchAndMail(t *testing.T) {
	t.Parallel()
	f := setupNotices(t)
	ids := f.failOnce(t, f.hook)
	if len(ids) != 1 {
		t.Fatalf("notices %v; want webhook.failing", ids)
	}
	// Two workers dispatch it at once: one event, one mail per address.
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { f.dispatch(t, ids[0]) })
	}
	wg.Wait()
	var bodies [][]byte
	if err := f.db.Select(&bodies, `SELECT e.body FROM events e JOIN workspaces w ON w.id = e.workspace_id WHERE w.operational`); err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 1 {
		t.Fatalf("%d operational events; want 1", len(bodies))
	}
	var ev struct {
		Type        string           `json:"type"`
		WorkspaceID string           `json:"workspace_id"`
		Data        delivery.Figures `json:"data"`
	}
	if err := json.Unmarshal(bodies[0], &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != "webhook.failing" || ev.WorkspaceID != f.ws.ID || ev.Data.DashboardURL != publicURL+"/dashboard/webhooks/"+f.hook.ID ||
		ev.Data.LastStatusCode == nil || *ev.Data.LastStatusCode != 503 {
		t.Errorf("operational event %s", bodies[0])
	}
	// The mail task waits for the digest window.
	due := f.clock.Now().Truncate(time.Second).Add(time.Second)
	info := findTask(t, f.insp, jobs.QueueMaintenance, "mail:"+f.ws.ID+":"+strconv.FormatInt(due.Unix(), 10))
	// Scheduled, or already pending when the test ran slower than the
	// window (the clock is frozen, Redis's is not).
	if info == nil || (info.State != asynq.TaskStateScheduled && info.State != asynq.TaskStatePending) {
		t.Fatalf("mail task %+v; want one for the window's end %s", info, due)
	}
	if err := f.mail(t); err != nil {
		t.Fatal(err)
	}
	if n := len(f.smtp.Messages()); n != 0 {
		t.Fatalf("%d mails before the digest window ended", n)
	}
	f.clock.Advance(time.Second)
	for range 2 { // a second run sends nothing more
		if err := f.mail(t); err != nil {
			t.Fatal(err)
		}
	}
	msgs := f.smtp.WaitFor(t, 2, 5*time.Second)
	if len(msgs) != 2 {
		t.Fatalf("%d mails; want one per address", len(msgs))
	}
	to := map[string]received{}
	for _, m := range msgs {
		r := parseMail(t, m)
		to[r.To] = r
	}
	for _, addr := range []string{"ops@acme.example", "dev@acme.example"} {
		r, ok := to[addr]
		if !ok {
			t.Fatalf("no mail to %s; got %v", addr, to)
		}
		if !strings.HasPrefix(r.Subject, "Webhook failing: https://receiver.example/hook") {
			t.Errorf("subject %q", r.Subject)
		}
		for name, body := range map[string]string{"text": r.Text, "html": r.HTML} {
			for _, want := range []string{"503", publicURL + "/dashboard/webhooks/" + f.hook.ID, "Send test event", publicURL + "/unsubscribe/"} {
				if !strings.Contains(body, want) {
					t.Errorf("%s body to %s lacks %q:\n%s", name, addr, want, body)
				}
			}
		}
		if got := r.Header.Get("List-Unsubscribe"); !strings.HasPrefix(got, "<"+publicURL+"/unsubscribe/") {
			t.Errorf("List-Unsubscribe = %q", got)
		}
		if got := r.Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
			t.Errorf("List-Unsubscribe-Post = %q", got)
		}
	}
	if to["ops@acme.example"].Header.Get("List-Unsubscribe") == to["dev@acme.example"].Header.Get("List-Unsubscribe") {
		t.Error("two addresses share one unsubscribe link")
	}
	if got := testutil.ToFloat64(f.metrics.Notices.WithLabelValues("webhook.failing", metrics.ChannelEmail)); got != 2 {
		t.Errorf("notices sent by email = %v; want 2", got)
	}
}

// Notices of several webhooks of a workspace due together go to an
// address as one digest.
func TestNoticeMailDigest(t *testing.T) {
	t.Parallel()
	f := setupNotices(t)
	other := testfactory.Webhook(t, f.store, f.ws.ID, repo.NewWebhook{URL: "https://other.example/", Events: []string{"comment.created"}, Active: true,
		NotifyEmails: []string{"ops@acme.example"}})
	for _, id := range append(f.failOnce(t, f.hook), f.failOnce(t, other)...) {
		f.dispatch(t, id)
	}
	f.clock.Advance(time.Second)
	if err := f.mail(t); err != nil {
		t.Fatal(err)
	}
	msgs := f.smtp.WaitFor(t, 2, 5*time.Second)
	for _, m := range msgs {
		r := parseMail(t, m)
		switch r.To {
		case "ops@acme.example":
			if !strings.Contains(r.Subject, "2 webhooks") || !strings.Contains(r.Text, "https://other.example/") || !strings.Contains(r.Text, "https://receiver.example/hook") {
				t.Errorf("digest to ops: %q\n%s", r.Subject, r.Text)
			}
		case "dev@acme.example":
			if strings.Contains(r.Text, "https://other.example/") {
				t.Errorf("dev is no address of the other webhook:\n%s", r.Text)
			}
		}
	}
	if len(msgs) != 2 {
		t.Errorf("%d mails; want a digest to ops and one mail to dev", len(msgs))
	}
}

// An SMTP outage delays the mail and loses none: it is retried with
// backoff and sent once the relay is back. Nothing of the address or the
// password reaches the stored error.
func TestNoticeMailOutage(t *testing.T) {
	t.Parallel()
	f := setupNotices(t)
	f.oneMailDue(t)
	f.smtp.Stop()
	if err := f.mail(t); err != nil {
		t.Fatal(err)
	}
	var row struct {
		Status    string    `db:"status"`
		Attempts  int       `db:"attempts"`
		LastError string    `db:"last_error"`
		Next      time.Time `db:"next_attempt_at"`
	}
	if err := f.db.Get(&row, `SELECT status, attempts, last_error, next_attempt_at FROM notice_mails`); err != nil {
		t.Fatal(err)
	}
	if row.Status != "pending" || row.Attempts != 1 || row.Next.Before(f.clock.Now().Add(50*time.Second)) {
		t.Fatalf("after a failed try: %+v; want pending, retried in a minute", row)
	}
	if strings.Contains(row.LastError, "ops@acme.example") || strings.Contains(row.LastError, smtpPass) {
		t.Errorf("stored error %q names the address or the password", row.LastError)
	}
	retry := findTask(t, f.insp, jobs.QueueMaintenance, "mail:"+f.ws.ID+":"+strconv.FormatInt(jobsCeil(row.Next).Unix(), 10))
	if retry == nil {
		t.Errorf("no mail task scheduled for the retry at %s", row.Next)
	}
	if got := testutil.ToFloat64(f.metrics.NoticeFailures.WithLabelValues(metrics.ChannelEmail)); got != 1 {
		t.Errorf("email notice failures = %v; want 1", got)
	}
	f.smtp.Restart(t)
	if err := f.mail(t); err != nil { // not due yet
		t.Fatal(err)
	}
	if n := len(f.smtp.Messages()); n != 0 {
		t.Fatalf("%d mails before the retry was due", n)
	}
	f.clock.Advance(time.Minute)
	if err := f.mail(t); err != nil {
		t.Fatal(err)
	}
	if msgs := f.smtp.WaitFor(t, 1, 5*time.Second); len(msgs) != 1 || msgs[0].To[0] != "ops@acme.example" {
		t.Fatalf("after the outage: %d mails", len(msgs))
	}
}

// A relay that refuses a recipient for good is not retried; an address
// that unsubscribed gets nothing more.
func TestNoticeMailRefusedAndUnsubscribed(t *testing.T) {
	t.Parallel()
	f := setupNotices(t)
	f.oneMailDue(t)
	f.smtp.SetFailing(550)
	if err := f.mail(t); err != nil {
		t.Fatal(err)
	}
	var status string
	if err := f.db.Get(&status, `SELECT status FROM notice_mails`); err != nil || status != "failed" {
		t.Fatalf("after a 550: status %q, %v; want failed", status, err)
	}
	f.smtp.SetFailing(0)

	var token string
	if err := f.db.Get(&token, `SELECT token FROM notify_addresses WHERE address = 'ops@acme.example'`); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Unsubscribe(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	// A recovery and a new streak: nothing goes to the address.
	testfactory.Record(t, f.store, repo.AttemptResult{DeliveryID: testfactory.Delivery(t, f.store, repo.NewEvent{WorkspaceID: f.ws.ID, Type: eventType}, `{}`),
		Attempt: 1, StatusCode: 200, Succeeded: true, At: f.clock.Now(), NewStatus: delivery.StatusSucceeded, Notices: delivery.NoticePolicy{FailingAfter: 1}})
	for _, id := range f.failOnce(t, f.hook) {
		f.dispatch(t, id)
	}
	f.clock.Advance(time.Second)
	if err := f.mail(t); err != nil {
		t.Fatal(err)
	}
	if n := len(f.smtp.Messages()); n != 0 {
		t.Errorf("%d mails after unsubscribing", n)
	}
}

// jobsCeil is a due time as a task ID names it: asynq keeps whole seconds,
// rounded up.
func jobsCeil(t time.Time) time.Time {
	if c := t.Truncate(time.Second); !c.Equal(t) {
		return c.Add(time.Second)
	}
	return t
}
