package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testreceiver"
)

// operationalSecret signs the operational webhooks of these tests.
const operationalSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// notice is an operational delivery as the operator's endpoint reads it.
type notice struct {
	Type        string           `json:"type"`
	WorkspaceID string           `json:"workspace_id"`
	Data        delivery.Figures `json:"data"`
	req         testreceiver.Received
}

// A receiver that keeps failing makes the operator's endpoint get
// webhook.failing, then webhook.at_risk, then webhook.disabled, each once
// and with the figures of the moment, signed with the operational secret
// as customer deliveries are; fixing the receiver and re-enabling the
// webhook sends webhook.recovered. The schedule is compressed by settings.
func TestOperationalNotices(t *testing.T) {
	t.Parallel()
	var healed atomic.Bool
	rcv := newReceiver(t, testreceiver.Switch(&healed, testreceiver.Always(http.StatusOK, "ok"), testreceiver.Always(http.StatusServiceUnavailable, "down")))
	ops := newReceiver(t, testreceiver.Always(http.StatusNoContent, ""))
	sys := startSystem(t, options{
		retrySchedule: strings.TrimSuffix(strings.Repeat("400ms,", 12), ","),
		env: map[string]string{
			"OPERATIONAL_WEBHOOK_URL":      ops.URL("/ops"),
			"OPERATIONAL_WEBHOOK_SECRET":   operationalSecret,
			"PUBLIC_URL":                   "https://webhooks.example",
			"NOTIFY_FAILING_AFTER":         "2",
			"NOTIFY_FAILING_FOR":           "0s",
			"NOTIFY_AT_RISK_AT":            "0.5",
			"WEBHOOK_DISABLE_AFTER":        "3s",
			"WEBHOOK_DISABLE_MIN_FAILURES": "4",
		},
	})
	sys.rememberSecret(operationalSecret)
	ws := sys.newWorkspace(t)
	wh := ws.createWebhook(t, map[string]any{"url": rcv.URL("/down"), "events": []string{"post.created"}})
	start := time.Now()
	ws.postEvent(t, "post.created", testfactory.EventData(t, "post.created", nil))

	got := waitNotices(t, sys, ops, 3)
	for i, want := range []string{"webhook.failing", "webhook.at_risk", "webhook.disabled"} {
		n := got[i]
		if n.Type != want || n.WorkspaceID != ws.ID || n.Data.Webhook.ID != wh.ID || n.Data.Webhook.URL != wh.URL {
			t.Fatalf("notice %d: %s for workspace %s webhook %+v; want %s of %s", i, n.Type, n.WorkspaceID, n.Data.Webhook, want, wh.ID)
		}
		f := n.Data
		if f.FailingSince == nil || f.FailingSince.Before(start.Add(-time.Second)) || f.FailingSince.After(start.Add(5*time.Second)) {
			t.Errorf("%s: failing_since %v; want when the first attempt failed, after %s", want, f.FailingSince, start)
		}
		if f.LastStatusCode == nil || *f.LastStatusCode != 503 || f.LastError == nil || f.DashboardURL != "https://webhooks.example/dashboard/webhooks/"+wh.ID {
			t.Errorf("%s: last status %v, error %v, link %q", want, deref(f.LastStatusCode), deref(f.LastError), f.DashboardURL)
		}
		if want != "webhook.disabled" {
			if f.NextAttemptAt == nil || f.DisableAt == nil || !f.DisableAt.Equal(f.FailingSince.Add(3*time.Second)) {
				t.Errorf("%s: next attempt %v, disable at %v; want both, disable 3s after %v", want, deref(f.NextAttemptAt), deref(f.DisableAt), deref(f.FailingSince))
			}
		}
	}
	if f := got[0].Data; f.State != "failing" || f.ConsecutiveFailures != 2 {
		t.Errorf("webhook.failing: state %s after %d failures; want failing after 2", f.State, f.ConsecutiveFailures)
	}
	if f := got[1].Data; f.State != "at_risk" || f.ConsecutiveFailures < 3 {
		t.Errorf("webhook.at_risk: state %s after %d failures", f.State, f.ConsecutiveFailures)
	}
	if f := got[2].Data; f.State != "disabled" || deref(f.DisabledReason) != "failing" || f.DisabledAt == nil || f.ConsecutiveFailures < 4 {
		t.Errorf("webhook.disabled: state %s, reason %v, at %v, %d failures", f.State, deref(f.DisabledReason), deref(f.DisabledAt), f.ConsecutiveFailures)
	}
	if h := ws.webhook(t, wh.ID); h.Active || deref(h.NoticeStage) != "disabled" {
		t.Errorf("webhook active=%v notice_stage=%v; want disabled", h.Active, deref(h.NoticeStage))
	}

	// Fixed and re-enabled: recovered, with the streak that ended.
	healed.Store(true)
	ws.call(t, "PATCH", "/v1/webhooks/"+wh.ID, map[string]any{"active": true}, http.StatusOK, nil)
	got = waitNotices(t, sys, ops, 4)
	if n := got[3]; n.Type != "webhook.recovered" || n.Data.State != "healthy" || n.Data.ConsecutiveFailures != got[2].Data.ConsecutiveFailures {
		t.Errorf("after re-enabling: %s, state %s, %d failures; want webhook.recovered after %d", n.Type, n.Data.State, n.Data.ConsecutiveFailures, got[2].Data.ConsecutiveFailures)
	}
	// Nothing repeated: each notice reached the operator once, in order.
	if len(got) != 4 {
		t.Errorf("the operator got %d notices by the time of webhook.recovered; want 4", len(got))
	}

	// Signed as every delivery is: the documented verifiers and the
	// Standard Webhooks library accept each with the operational secret.
	var cases []verifierCase
	for _, n := range got {
		cases = append(cases, verifierCase{base64.StdEncoding.EncodeToString(n.req.Body), operationalSecret, n.req.Header.Get("X-Trackelio-Signature")})
		if err := verifyStandard(t, operationalSecret, n.req); err != nil {
			t.Errorf("%s: webhook-signature: %v", n.Type, err)
		}
	}
	for _, v := range []struct{ interpreter, script string }{{"node", "verify.js"}, {"python3", "verify.py"}} {
		if code, out := runVerifier(t, v.interpreter, v.script, cases); code != 0 {
			t.Errorf("%s rejected operational deliveries (exit %d):\n%s", v.script, code, out)
		}
	}
	t.Logf("FIGURE operational_notices=%d first_after=%s", len(got), got[0].req.At.Sub(start).Round(time.Millisecond))
}

// operational decodes the operator's endpoint's requests, oldest first.
func operational(t testing.TB, ops *receiver) []notice {
	t.Helper()
	var out []notice
	for _, r := range ops.Requests() {
		var n notice
		if err := json.Unmarshal(r.Body, &n); err != nil {
			t.Fatalf("operational delivery is not JSON: %v\n%s", err, r.Body)
		}
		n.req = r
		out = append(out, n)
	}
	return out
}

// waitNotices waits for n notices at the operator's endpoint.
func waitNotices(t testing.TB, sys *system, ops *receiver, n int) []notice {
	t.Helper()
	ops.waitRequests(t, sys, n)
	return operational(t, ops)
}
