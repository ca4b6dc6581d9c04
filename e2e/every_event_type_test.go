package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testreceiver"
)

// eventTypes is the documentation's table of events, in its order.
var eventTypes = testfactory.DocumentedEventTypes()

func allTypes() []string {
	var ts []string
	for _, et := range eventTypes {
		ts = append(ts, et.Type)
	}
	return ts
}

// eventData is, per type, event data as a producer might write it:
// indented, keys out of alphabetical order, nested values, unicode,
// characters HTML escaping would rewrite, JSON escapes, and numbers a trip
// through float64 would change. The service must send it exactly as sent,
// only compacted, so any re-encoding shows up as a byte difference.
var eventData = map[string]string{
	"post.created": `{
		"post": {
			"id": "post_01",
			"title": "Dark mode <please> & thanks",
			"body": "Ça marche très bien — 日本語のテキスト 🚀",
			"status": "open",
			"board": {"id": "board_1", "name": "Ideas & <wishes>"},
			"author": {"id": "user_3", "name": "Zoë", "email": "zoe@example.com"},
			"tags": ["ui", "a&b", "<script>alert(1)</script>"],
			"votes": 12345678901234567890,
			"score": 1.50,
			"ratio": 1e3,
			"pinned": false,
			"merged_into": null
		},
		"source": "widget"
	}`,
	"post.status_changed": `{"post": {"id": "post_01", "title": "Ünïcödé"}, "previous_status": "open", "new_status": "planned",
		"changed_by": {"id": "user_7", "name": "Ana <ana@example.com>"}}`,
	"post.assigned": `{
		"post": {"id": "post_02", "title": "Export"},
		"assignee": {"id": "user_9", "name": "Björn & co"},
		"assigned_by": {"id": "user_7", "email": null},
		"previous_assignee": null
	}`,
	"comment.created": `{"comment": {"id": "cmt_1", "author": {"id": "user_7"},
		"body": "quote \" backslash \\ newline \n tab \t escaped \u00e9 slash \/ and raw é",
		"line_separator": "a` + "\u2028" + `b",
		"mentions": [{"id": "user_7"}, {"id": "user_9"}]}, "post": {"id": "post_01", "title": "Dark mode"}}`,
	"nps.submitted": `{"id": "nps_1", "score": 9, "comment": "Great > good", "respondent": {"id": "user_1"}, "weights": [0.1, 2.50, -3]}`,
	"csat.submitted": `{"id": "csat_1", "rating": 4, "max": 5, "comment": "", "respondent": {"id": "user_2"}, "conversation": {"id": "conv_1"},
		"meta": {"locale": "pt-BR", "nested": {"deeper": {"deepest": [true, false, null]}}}}`,
	"conversation.completed": `{"conversation": {"id": "conv_1", "tags": [], "csat": {}}, "resolved_by": {"id": "agent_1", "name": "агент Мария"},
		"timings": {"started_at": "2026-11-30T16:40:00Z", "completed_at": "2026-11-30T17:40:00.5+01:00", "resolution_seconds": 3600}}`,
}

// sentEvent is what the test posted and the 202 answer it got.
type sentEvent struct {
	ID   string
	Type string
	Data string // the data as sent, compacted
}

func compact(t testing.TB, s string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(s)); err != nil {
		t.Fatalf("bad test data %s: %v", s, err)
	}
	return buf.String()
}

func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

var userAgent = regexp.MustCompile(`^Trackelio-Webhooks/\S+$`)

// requestHead is the part of a received request the service controls,
// besides the body.
type requestHead struct {
	Method      string
	URI         string
	ContentType string
	UserAgent   string
	Event       string
	Signature   string
	Delivery    string
}

// checkRequest checks a received request against the event it should
// carry, rebuilding the expected body byte for byte. createdAfter and
// createdBefore bound the event's creation time.
func checkRequest(t testing.TB, r testreceiver.Received, uri, secret, workspaceID string, ev sentEvent, createdAfter, createdBefore time.Time) {
	t.Helper()
	var head struct {
		CreatedAt string `json:"created_at"`
	}
	if err := json.Unmarshal(r.Body, &head); err != nil {
		t.Errorf("%s: body is not JSON: %v\n%s", ev.Type, err, r.Body)
		return
	}
	createdAt, err := time.Parse(time.RFC3339Nano, head.CreatedAt)
	if err != nil {
		t.Errorf("%s: created_at %q is not RFC 3339: %v", ev.Type, head.CreatedAt, err)
	}
	if canonical := createdAt.UTC().Format(time.RFC3339Nano); canonical != head.CreatedAt {
		t.Errorf("%s: created_at %q, want it in UTC as time.RFC3339Nano renders it: %q", ev.Type, head.CreatedAt, canonical)
	}
	if createdAt.Before(createdAfter.Add(-time.Second)) || createdAt.After(createdBefore.Add(time.Second)) {
		t.Errorf("%s: created_at %s is not when the event was posted (%s to %s)", ev.Type, createdAt, createdAfter, createdBefore)
	}
	wantBody := `{"id":"` + ev.ID + `","type":"` + ev.Type + `","created_at":"` + head.CreatedAt +
		`","workspace_id":"` + workspaceID + `","data":` + ev.Data + `}`
	if diff := cmp.Diff(wantBody, string(r.Body)); diff != "" {
		t.Errorf("%s: body mismatch (-want +got):\n%s", ev.Type, diff)
	}

	got := requestHead{
		Method:      r.Method,
		URI:         r.URI,
		ContentType: r.Header.Get("Content-Type"),
		UserAgent:   r.Header.Get("User-Agent"),
		Event:       r.Header.Get("X-Trackelio-Event"),
		Signature:   r.Header.Get("X-Trackelio-Signature"),
		Delivery:    r.Delivery(),
	}
	want := requestHead{
		Method:      http.MethodPost,
		URI:         uri,
		ContentType: "application/json",
		UserAgent:   "Trackelio-Webhooks/<version>",
		Event:       ev.Type,
		Signature:   sign(secret, r.Body),
		Delivery:    got.Delivery, // matched against the history by the caller
	}
	if userAgent.MatchString(got.UserAgent) {
		want.UserAgent = got.UserAgent
	}
	if got.Delivery == "" {
		want.Delivery = "<delivery id>"
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: request mismatch (-want +got):\n%s", ev.Type, diff)
	}
}

// verifierCase is one input of the testdata verifier drivers.
type verifierCase struct {
	BodyB64   string `json:"body_b64"`
	Secret    string `json:"secret"`
	Signature string `json:"signature"`
}

// runVerifier runs a testdata driver around a documented verifier and
// returns its exit code and output.
func runVerifier(t testing.TB, interpreter, script string, cases []verifierCase) (int, string) {
	t.Helper()
	path, err := exec.LookPath(interpreter)
	if err != nil {
		t.Fatalf("%s is needed to run the documented verifier: %v", interpreter, err)
	}
	b, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "cases.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, filepath.Join("testdata", script), file).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	default:
		t.Fatalf("run %s %s: %v\n%s", interpreter, script, err, out)
		return 0, ""
	}
}

func TestDeliversEveryEventType(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, func(r testreceiver.Received, _, _ int) testreceiver.Answer {
		return testreceiver.Answer{Status: http.StatusOK, Body: `{"received":"` + r.Delivery() + `"}`}
	})
	sys := startSystem(t, options{})
	ws := sys.newWorkspace(t)

	for _, token := range []string{"", "not-a-key"} {
		status, body := caller{sys: sys, token: token}.do(t, "GET", "/v1/webhooks", nil)
		var e apiError
		json.Unmarshal(body, &e)
		type answer struct {
			Status    int
			ErrorCode bool
		}
		if diff := cmp.Diff(answer{http.StatusUnauthorized, true}, answer{status, e.Error.Code != ""}); diff != "" {
			t.Errorf("GET /v1/webhooks with key %q mismatch (-want +got):\n%s\nbody: %s", token, diff, body)
		}
	}

	var types struct {
		Data []client.EventType `json:"data"`
	}
	ws.call(t, "GET", "/v1/event-types", nil, http.StatusOK, &types)
	// The documentation's table lists no schema or example; the answer's
	// check against api/openapi.json requires both.
	listed := append(slices.Clone(eventTypes), testfactory.DocumentedOperationalEventTypes()...)
	if diff := cmp.Diff(listed, types.Data, cmpopts.IgnoreFields(client.EventType{}, "Schema", "Example")); diff != "" {
		t.Errorf("GET /v1/event-types mismatch (-want +got):\n%s", diff)
	}

	const path = "/hooks/trackelio?source=e2e"
	wh := ws.createWebhook(t, map[string]any{
		"url":         rcv.URL(path),
		"events":      allTypes(),
		"description": "every type",
	})
	wantWebhook := client.Webhook{
		ID: wh.ID, URL: rcv.URL(path), Events: allTypes(), Active: true, Description: "every type",
		Secret: wh.Secret, CreatedAt: wh.CreatedAt, UpdatedAt: wh.UpdatedAt,
		NotifyEmails: []string{}, NotifyOn: []string{"webhook.failing", "webhook.at_risk", "webhook.disabled", "webhook.recovered"},
	}
	if diff := cmp.Diff(wantWebhook, wh); diff != "" {
		t.Errorf("POST /v1/webhooks mismatch (-want +got):\n%s", diff)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(wh.Secret, "whsec_"))
	if !strings.HasPrefix(wh.Secret, "whsec_") || err != nil || len(key) != 32 {
		t.Errorf("secret %q is not whsec_ and the standard base64 of 32 bytes", wh.Secret)
	}
	if diff := cmp.Diff(wh.Secret, ws.secret(t, wh.ID)); diff != "" {
		t.Errorf("GET /v1/webhooks/{id}/secret mismatch (-want +got):\n%s", diff)
	}

	sent := map[string]sentEvent{}
	postedAfter := time.Now()
	for _, et := range eventTypes {
		a := ws.postEvent(t, et.Type, eventData[et.Type])
		if a.Deliveries != 1 {
			t.Errorf("POST /v1/events %s: %d deliveries, want 1", et.Type, a.Deliveries)
		}
		sent[et.Type] = sentEvent{ID: a.ID, Type: et.Type, Data: compact(t, eventData[et.Type])}
	}
	postedBefore := time.Now()

	reqs := rcv.waitRequests(t, sys, len(eventTypes))
	seen := map[string]bool{} // delivery ids at the receiver
	for _, r := range reqs {
		ev, ok := sent[r.Header.Get("X-Trackelio-Event")]
		if !ok {
			t.Errorf("request for unknown event type %q", r.Header.Get("X-Trackelio-Event"))
			continue
		}
		checkRequest(t, r, path, wh.Secret, ws.ID, ev, postedAfter, postedBefore)
		if seen[r.Delivery()] {
			t.Logf("delivery %s arrived more than once", r.Delivery())
		}
		seen[r.Delivery()] = true
	}

	// The history lists every delivery newest first, that is in reverse
	// posting order, each with the answer the receiver gave it.
	history := ws.waitHistory(t, wh.ID, len(eventTypes))
	type row struct {
		EventID, EventType, WebhookID string
		Status                        client.DeliveryStatus
		Attempts                      int
		StatusCode                    *int
		ResponseBody                  string
		Received                      bool
	}
	var want, got []row
	for i, d := range history {
		ev := sent[eventTypes[len(eventTypes)-1-i].Type]
		want = append(want, row{ev.ID, ev.Type, wh.ID, "succeeded", 1, new(200), `{"received":"` + d.ID + `"}`, true})
		got = append(got, row{d.EventID, d.EventType, d.WebhookID, d.Status, d.Attempts, d.StatusCode, d.ResponseBody, seen[d.ID]})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivery history mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(history, ws.history(t, wh.ID, 3)); diff != "" {
		t.Errorf("history read in pages of 3 mismatch (-all at once +paged):\n%s", diff)
	}

	// The verifiers published to customers accept every delivery...
	var cases []verifierCase
	for _, r := range reqs {
		cases = append(cases, verifierCase{base64.StdEncoding.EncodeToString(r.Body), wh.Secret, r.Header.Get("X-Trackelio-Signature")})
	}
	// ...and reject a body changed after signing.
	tampered := bytes.Replace(reqs[0].Body, []byte(`"data":{`), []byte(`"data":{"admin":true,`), 1)
	bad := []verifierCase{{base64.StdEncoding.EncodeToString(tampered), wh.Secret, reqs[0].Header.Get("X-Trackelio-Signature")}}
	for _, v := range []struct{ interpreter, script string }{{"node", "verify.js"}, {"python3", "verify.py"}} {
		if code, out := runVerifier(t, v.interpreter, v.script, cases); code != 0 {
			t.Errorf("%s rejected deliveries (exit %d):\n%s", v.script, code, out)
		}
		if code, out := runVerifier(t, v.interpreter, v.script, bad); code != 1 || !strings.Contains(out, "case 0") {
			t.Errorf("%s did not reject a tampered body (exit %d):\n%s", v.script, code, out)
		}
	}
}
