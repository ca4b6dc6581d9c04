package dashboard_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/trackelio/webhooks/internal/dashboard"
	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/repo"
)

// logBuffer keeps what the dashboard logs, for tests that check what it
// must not log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// postMultipart submits a form as multipart/form-data, which RFC 8058
// allows a mail client to send.
func (v *visitor) postMultipart(tb testing.TB, path string, fields map[string]string) page {
	tb.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, val := range fields {
		if err := w.WriteField(k, val); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	req, err := http.NewRequest("POST", v.f.srv.URL+path, &body)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	return v.do(tb, req)
}

// An unsubscribe link works without a session: GET asks, a POST as a mail
// client sends it (RFC 8058, no cookie, no CSRF token) takes the address off
// every webhook of the workspace, once; a used or unknown link is the 404
// page that says so. Neither the address nor the token is logged.
func TestUnsubscribe(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	f, ws, _ := setupSignedIn(t, func(c *dashboard.Config) { c.Log = slog.New(slog.NewTextHandler(&logs, nil)) })
	a := f.mustNotifyingWebhook(t, ws, "https://a.example/", "ops@example.com", "dev@example.com")
	b := f.mustNotifyingWebhook(t, ws, "https://b.example/", "ops@example.com")
	ops, dev := f.mustToken(t, ws, "ops@example.com"), f.mustToken(t, ws, "dev@example.com")
	mailClient := f.visitor(t)
	subscribed := func(hook repo.Webhook, address string) bool {
		return slices.Contains(f.mustGetWebhook(t, hook).NotifyEmails, address)
	}

	// GET asks, and changes nothing: a link scanner unsubscribes nobody.
	ask := mailClient.getOK(t, "/unsubscribe/"+ops)
	ask.wantText(t, "Stop failure notices to ops@example.com from workspace Acme?")
	ask.wantHTML(t, `<form method="post" action="/unsubscribe/`+ops+`" class="actions">`, `>Stop failure notices</button>`)
	if !subscribed(a, "ops@example.com") || !subscribed(b, "ops@example.com") {
		t.Fatal("asking unsubscribed the address")
	}

	// One click, as a mail client posts it.
	done := mailClient.post(t, "/unsubscribe/"+ops, url.Values{"List-Unsubscribe": {"One-Click"}})
	done.wantStatus(t, http.StatusOK)
	done.wantText(t, "ops@example.com will get no more failure notices from Acme.")
	if subscribed(a, "ops@example.com") || subscribed(b, "ops@example.com") || !subscribed(a, "dev@example.com") {
		t.Errorf("after unsubscribing ops@: a has %v, b has %v; want dev@ alone on a", f.mustGetWebhook(t, a).NotifyEmails, f.mustGetWebhook(t, b).NotifyEmails)
	}
	// A multipart body works as well.
	mailClient.postMultipart(t, "/unsubscribe/"+dev, map[string]string{"List-Unsubscribe": "One-Click"}).wantStatus(t, http.StatusOK)
	if subscribed(a, "dev@example.com") {
		t.Error("a multipart one-click left dev@ subscribed")
	}

	// Used or unknown, the link is the 404 page; nothing more changes.
	before := f.rowCounts(t)
	for name, path := range map[string]string{
		"used":     "/unsubscribe/" + ops,
		"unknown":  "/unsubscribe/" + strings.Repeat("A", 26),
		"not one":  "/unsubscribe/..%2F..%2Fdashboard",
		"too long": "/unsubscribe/" + strings.Repeat("A", 65),
	} {
		for _, method := range []string{"GET", "POST"} {
			t.Run(name+" "+method, func(t *testing.T) {
				var p page
				if method == "GET" {
					p = mailClient.get(t, path)
				} else {
					p = mailClient.post(t, path, url.Values{"List-Unsubscribe": {"One-Click"}})
				}
				p.wantStatus(t, http.StatusNotFound)
				p.wantText(t, "Link already used or unknown", "This unsubscribe link was already used, or it is unknown.")
			})
		}
	}
	dbtest.WantRowCounts(t, f.db, before, "used and unknown links")

	for _, secret := range []string{ops, dev, "ops@example.com", "dev@example.com"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "notification address unsubscribed") {
		t.Errorf("unsubscribing logged nothing:\n%s", logs.String())
	}
}

// brokenSubscriptions is the store with its subscriptions unreachable.
type brokenSubscriptions struct{ *repo.Store }

func (brokenSubscriptions) SubscriptionByToken(context.Context, string) (repo.Subscription, error) {
	return repo.Subscription{}, errors.New("boom")
}

// A failure logs the request's path without the link's token.
func TestUnsubscribeFailureLogsNoToken(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	f := setup(t, func(c *dashboard.Config) {
		c.Store = brokenSubscriptions{c.Store.(*repo.Store)}
		c.Log = slog.New(slog.NewTextHandler(&logs, nil))
	})
	token := strings.Repeat("B", 26)
	f.visitor(t).get(t, "/unsubscribe/"+token).wantStatus(t, http.StatusInternalServerError)
	if got := logs.String(); strings.Contains(got, token) || !strings.Contains(got, "path=/unsubscribe/…") {
		t.Errorf("the log of the failure:\n%s\nwants the path without the token", got)
	}
}
