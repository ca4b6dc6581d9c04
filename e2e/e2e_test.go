package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/trackelio/webhooks/internal/testenv"
)

// eventType is an entry of GET /v1/event-types.
type eventType struct {
	Type        string `json:"type"`
	Description string `json:"description"`
}

// eventTypes is the documentation's table of events, in its order.
var eventTypes = []eventType{
	{"post.created", "Fired when a new post is submitted from any source (widget, public board, or dashboard)."},
	{"post.status_changed", "Fired when a post's status is updated."},
	{"post.assigned", "Fired when a post is assigned to a team member."},
	{"comment.created", "Fired when a comment is added to a post."},
	{"nps.submitted", "Fired when an NPS response is collected."},
	{"csat.submitted", "Fired when a CSAT response is collected."},
	{"conversation.completed", "Fired when a messenger conversation is resolved."},
}

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
func checkRequest(t testing.TB, r received, uri, secret, workspaceID string, ev sentEvent, createdAfter, createdBefore time.Time) {
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
		Delivery:    r.delivery(),
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
	rcv := newReceiver(t, func(_ int, r received) (int, string) {
		return http.StatusOK, `{"received":"` + r.delivery() + `"}`
	})
	sys := startSystem(t, options{})
	ws := sys.newWorkspace(t)

	for _, token := range []string{"", "not-a-key"} {
		status, body := client{sys: sys, token: token}.do(t, "GET", "/v1/webhooks", nil)
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
		Data []eventType `json:"data"`
	}
	ws.call(t, "GET", "/v1/event-types", nil, http.StatusOK, &types)
	if diff := cmp.Diff(eventTypes, types.Data); diff != "" {
		t.Errorf("GET /v1/event-types mismatch (-want +got):\n%s", diff)
	}

	const path = "/hooks/trackelio?source=e2e"
	wh := ws.createWebhook(t, map[string]any{
		"url":         rcv.url(path),
		"events":      allTypes(),
		"description": "every type",
	})
	wantWebhook := webhook{
		ID: wh.ID, URL: rcv.url(path), Events: allTypes(), Active: true, Description: "every type",
		Secret: wh.Secret, CreatedAt: wh.CreatedAt, UpdatedAt: wh.UpdatedAt,
	}
	if diff := cmp.Diff(wantWebhook, wh); diff != "" {
		t.Errorf("POST /v1/webhooks mismatch (-want +got):\n%s", diff)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(wh.Secret, "whsec_"))
	if !strings.HasPrefix(wh.Secret, "whsec_") || err != nil || len(key) != 32 {
		t.Errorf("secret %q is not whsec_ and the standard base64 of 32 bytes", wh.Secret)
	}
	var secret struct {
		Secret string `json:"secret"`
	}
	ws.call(t, "GET", "/v1/webhooks/"+wh.ID+"/secret", nil, http.StatusOK, &secret)
	if diff := cmp.Diff(wh.Secret, secret.Secret); diff != "" {
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
		if seen[r.delivery()] {
			t.Logf("delivery %s arrived more than once", r.delivery())
		}
		seen[r.delivery()] = true
	}

	// The history lists every delivery newest first, that is in reverse
	// posting order, each with the answer the receiver gave it.
	history := ws.waitHistory(t, wh.ID, len(eventTypes))
	type row struct {
		EventID, EventType, WebhookID, Status string
		Attempts                              int
		StatusCode                            *int
		ResponseBody                          string
		Received                              bool
	}
	var want, got []row
	for i, d := range history {
		ev := sent[eventTypes[len(eventTypes)-1-i].Type]
		want = append(want, row{ev.ID, ev.Type, wh.ID, "succeeded", 1, intp(200), `{"received":"` + d.ID + `"}`, true})
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

// attemptRow is the part of an attempt a test can predict.
type attemptRow struct {
	Attempt      int
	StatusCode   *int
	ResponseBody string
}

func attemptRows(as []attempt) []attemptRow {
	rows := []attemptRow{}
	for _, a := range as {
		rows = append(rows, attemptRow{a.Attempt, a.StatusCode, a.ResponseBody})
	}
	return rows
}

// counters are a webhook's failure counts.
type counters struct{ FailureCount, ConsecutiveFailures int }

// checkSameDelivery checks that requests are attempts of one delivery:
// identical bodies, the same delivery id, each validly signed.
func checkSameDelivery(t testing.TB, reqs []received, secret string) {
	t.Helper()
	for i, r := range reqs {
		type attemptHead struct{ Body, Delivery, Signature string }
		want := attemptHead{string(reqs[0].Body), reqs[0].delivery(), sign(secret, reqs[0].Body)}
		got := attemptHead{string(r.Body), r.delivery(), r.Header.Get("X-Trackelio-Signature")}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("request %d differs from the first (-want +got):\n%s", i+1, diff)
		}
	}
}

func TestRetriesThenSucceeds(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, statuses(500, 500, 200))
	const delay = 200 * time.Millisecond
	sys := startSystem(t, options{retrySchedule: "200ms,200ms,200ms"})
	ws := sys.newWorkspace(t)
	wh := ws.createWebhook(t, map[string]any{"url": rcv.url("/retry"), "events": []string{"post.assigned"}})
	ev := ws.postEvent(t, "post.assigned", testenv.EventData(t, "post.assigned", map[string]any{"case": "retry"}))

	reqs := rcv.waitRequests(t, sys, 3)
	d := ws.waitFinished(t, reqs[0].delivery())
	want := []attemptRow{
		{1, intp(500), "answer 1: 500"},
		{2, intp(500), "answer 2: 500"},
		{3, intp(200), "answer 3: 200"},
	}
	if diff := cmp.Diff(want, attemptRows(d.Attempts)); diff != "" {
		t.Errorf("attempts mismatch (-want +got):\n%s", diff)
	}
	type summary struct {
		EventID, Status string
		AttemptCount    int
		StatusCode      *int
		ResponseBody    string
	}
	if diff := cmp.Diff(summary{ev.ID, "succeeded", 3, intp(200), "answer 3: 200"},
		summary{d.EventID, d.Status, d.AttemptCount, d.StatusCode, d.ResponseBody}); diff != "" {
		t.Errorf("delivery mismatch (-want +got):\n%s", diff)
	}
	got := ws.webhook(t, wh.ID)
	if diff := cmp.Diff(counters{2, 0}, counters{got.FailureCount, got.ConsecutiveFailures}); diff != "" {
		t.Errorf("webhook counters mismatch (-want +got):\n%s", diff)
	}

	reqs = rcv.requests()
	if len(reqs) != 3 {
		t.Errorf("receiver got %d requests, want 3", len(reqs))
	}
	checkSameDelivery(t, reqs, wh.Secret)
	for i := 1; i < len(reqs); i++ {
		if gap := reqs[i].At.Sub(reqs[i-1].At); gap < delay {
			t.Errorf("attempt %d came %v after attempt %d; the schedule says %v", i+1, gap, i, delay)
		}
	}
}

func TestRetriesExhausted(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, always(http.StatusInternalServerError, "down"))
	sys := startSystem(t, options{retrySchedule: "100ms,100ms"})
	ws := sys.newWorkspace(t)
	wh := ws.createWebhook(t, map[string]any{"url": rcv.url("/down"), "events": []string{"post.status_changed"}})
	ws.postEvent(t, "post.status_changed", testenv.EventData(t, "post.status_changed", map[string]any{"case": "down"}))

	id := rcv.waitRequests(t, sys, 1)[0].delivery()
	d := ws.waitFinished(t, id)
	want := []attemptRow{{1, intp(500), "down"}, {2, intp(500), "down"}, {3, intp(500), "down"}}
	if diff := cmp.Diff(want, attemptRows(d.Attempts)); diff != "" {
		t.Errorf("attempts mismatch (-want +got):\n%s", diff)
	}
	if d.Status != "failed" || d.AttemptCount != 3 {
		t.Errorf("delivery ended %s after %d attempts, want failed after 3", d.Status, d.AttemptCount)
	}

	// The exhausted task is archived where the last retry ran: the retries
	// queue, under "<delivery id>:<attempt>".
	opt, err := asynq.ParseRedisURI(sys.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspector(opt)
	defer insp.Close()
	var task *asynq.TaskInfo
	taskID := id + ":3"
	sys.waitFor(t, "the task to be archived", func() (bool, string) {
		tasks, err := insp.ListArchivedTasks("retries")
		if err != nil {
			return false, err.Error()
		}
		for _, ti := range tasks {
			if ti.ID == taskID {
				task = ti
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d archived tasks, none with id %s", len(tasks), taskID)
	})
	type taskView struct {
		Queue, Type string
		Payload     map[string]any
	}
	var payload map[string]any
	if err := json.Unmarshal(task.Payload, &payload); err != nil {
		t.Errorf("task payload %q is not JSON: %v", task.Payload, err)
	}
	if diff := cmp.Diff(taskView{"retries", "webhook:deliver", map[string]any{"delivery_id": id}},
		taskView{task.Queue, task.Type, payload}); diff != "" {
		t.Errorf("archived task mismatch (-want +got):\n%s", diff)
	}

	reqs := rcv.requests()
	if len(reqs) != 3 {
		t.Errorf("receiver got %d requests, want exactly 3", len(reqs))
	}
	checkSameDelivery(t, reqs, wh.Secret)
	got := ws.webhook(t, wh.ID)
	if diff := cmp.Diff(counters{3, 3}, counters{got.FailureCount, got.ConsecutiveFailures}); diff != "" {
		t.Errorf("webhook counters mismatch (-want +got):\n%s", diff)
	}
}

func TestOutboxRecoversAfterRedisLoss(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, always(http.StatusOK, "ok"))
	sys := newSystem(t, options{sweepInterval: "500ms", outboxGrace: "200ms"})
	sys.startAPI(t)
	ws := sys.newWorkspace(t)
	wh := ws.createWebhook(t, map[string]any{"url": rcv.url("/outbox"), "events": []string{"comment.created"}})

	const n = 20
	events := map[string]bool{}
	for i := range n {
		a := ws.postEvent(t, "comment.created", testenv.EventData(t, "comment.created", map[string]any{"case": i}))
		if a.Deliveries != 1 {
			t.Fatalf("event %d: %d deliveries, want 1", i, a.Deliveries)
		}
		events[a.ID] = true
	}

	// Redis restarts empty: every enqueued task is gone.
	opt, err := redis.ParseURL(sys.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("flush redis: %v", err)
	}

	sys.startWorker(t)
	sys.startScheduler(t)
	delivered := map[string]int{} // delivery id -> requests
	gotEvents := map[string]bool{}
	sys.waitFor(t, fmt.Sprintf("%d distinct deliveries at the receiver", n), func() (bool, string) {
		clear(delivered)
		clear(gotEvents)
		for _, r := range rcv.requests() {
			delivered[r.delivery()]++
			var body struct {
				ID string `json:"id"`
			}
			json.Unmarshal(r.Body, &body)
			gotEvents[body.ID] = true
		}
		return len(delivered) >= n, fmt.Sprintf("%d distinct deliveries", len(delivered))
	})
	for id, count := range delivered {
		if count > 1 {
			t.Logf("delivery %s arrived %d times (allowed: delivery is at-least-once)", id, count)
		}
	}
	if diff := cmp.Diff(events, gotEvents); diff != "" {
		t.Errorf("events at the receiver mismatch (-posted +received):\n%s", diff)
	}
	history := ws.waitHistory(t, wh.ID, n)
	historyIDs := map[string]bool{}
	for _, d := range history {
		if d.Status != "succeeded" {
			t.Errorf("delivery %s is %s, want succeeded", d.ID, d.Status)
		}
		historyIDs[d.ID] = true
	}
	receivedIDs := map[string]bool{}
	for id := range delivered {
		receivedIDs[id] = true
	}
	if diff := cmp.Diff(historyIDs, receivedIDs); diff != "" {
		t.Errorf("delivery ids mismatch (-history +received):\n%s", diff)
	}
}

func TestIdempotencyAndRedeliver(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, always(http.StatusOK, "ok"))
	sys := startSystem(t, options{})
	ws := sys.newWorkspace(t)
	wh := ws.createWebhook(t, map[string]any{"url": rcv.url("/idem"), "events": []string{"nps.submitted"}})

	data := testenv.EventData(t, "nps.submitted", map[string]any{"id": "nps_42", "score": 10})
	first := ws.postEvent(t, "nps.submitted", data, "Idempotency-Key", "nps-42")
	again := ws.postEvent(t, "nps.submitted", data, "Idempotency-Key", "nps-42")
	if diff := cmp.Diff(accepted{first.ID, 1}, again); diff != "" {
		t.Errorf("repeated Idempotency-Key answer mismatch (-want +got):\n%s", diff)
	}
	history := ws.waitHistory(t, wh.ID, 1)
	original := rcv.waitRequests(t, sys, 1)[0]
	if original.delivery() != history[0].ID {
		t.Errorf("receiver got delivery %s, history has %s", original.delivery(), history[0].ID)
	}

	var redelivered delivery
	ws.call(t, "POST", "/v1/deliveries/"+history[0].ID+"/redeliver", nil, http.StatusAccepted, &redelivered)
	if redelivered.ID == "" || redelivered.ID == history[0].ID || redelivered.EventID != first.ID || redelivered.WebhookID != wh.ID {
		t.Errorf("redeliver answered %+v, want a new delivery of event %s to webhook %s", redelivered, first.ID, wh.ID)
	}
	reqs := rcv.waitRequests(t, sys, 2)
	type head struct{ Body, Delivery, Signature string }
	if diff := cmp.Diff(
		head{string(original.Body), redelivered.ID, original.Header.Get("X-Trackelio-Signature")},
		head{string(reqs[1].Body), reqs[1].delivery(), reqs[1].Header.Get("X-Trackelio-Signature")}); diff != "" {
		t.Errorf("redelivered request mismatch (-want +got):\n%s", diff)
	}

	// Another key is another event.
	other := ws.postEvent(t, "nps.submitted", data, "Idempotency-Key", "nps-43")
	if other.ID == first.ID || other.Deliveries != 1 {
		t.Errorf("a new Idempotency-Key answered %+v, want a new event with 1 delivery", other)
	}
	history = ws.waitHistory(t, wh.ID, 3)
	type row struct{ ID, EventID, Status string }
	wantRows := []row{
		{history[0].ID, other.ID, "succeeded"},
		{redelivered.ID, first.ID, "succeeded"},
		{original.delivery(), first.ID, "succeeded"},
	}
	var gotRows []row
	for _, d := range history {
		gotRows = append(gotRows, row{d.ID, d.EventID, d.Status})
	}
	if diff := cmp.Diff(wantRows, gotRows); diff != "" {
		t.Errorf("history mismatch (-want +got):\n%s", diff)
	}
	if n := len(rcv.requests()); n != 3 {
		t.Errorf("receiver got %d requests, want 3 (original, redelivery, new key)", n)
	}
}

func TestInactiveAndDeletedWebhooks(t *testing.T) {
	t.Parallel()
	idle := newReceiver(t, always(http.StatusOK, "ok"))
	down := newReceiver(t, always(http.StatusServiceUnavailable, "down"))
	sys := startSystem(t, options{retrySchedule: "1s,1s,1s,1s"})
	ws := sys.newWorkspace(t)

	// Inactive webhooks, whether created so or switched off, get nothing.
	createdOff := ws.createWebhook(t, map[string]any{"url": idle.url("/created-off"), "events": []string{"csat.submitted"}, "active": false})
	switchedOff := ws.createWebhook(t, map[string]any{"url": idle.url("/switched-off"), "events": []string{"csat.submitted"}})
	var patched webhook
	ws.call(t, "PATCH", "/v1/webhooks/"+switchedOff.ID, map[string]any{"active": false}, http.StatusOK, &patched)
	if patched.ID != switchedOff.ID || patched.Active {
		t.Errorf("PATCH {\"active\": false} answered %+v", patched)
	}
	a := ws.postEvent(t, "csat.submitted", testenv.EventData(t, "csat.submitted", map[string]any{"id": "csat_2", "rating": 2}))
	type inactive struct {
		Active  bool
		History int
	}
	for _, wh := range []webhook{createdOff, switchedOff} {
		if diff := cmp.Diff(inactive{false, 0}, inactive{ws.webhook(t, wh.ID).Active, len(ws.history(t, wh.ID, 10))}); diff != "" {
			t.Errorf("inactive webhook %s mismatch (-want +got):\n%s", wh.URL, diff)
		}
	}
	if a.Deliveries != 0 {
		t.Errorf("event for inactive webhooks only: %d deliveries, want 0", a.Deliveries)
	}

	// A webhook deleted while its delivery waits for a retry ends it.
	doomed := ws.createWebhook(t, map[string]any{"url": down.url("/deleted"), "events": []string{"conversation.completed"}})
	ws.postEvent(t, "conversation.completed", testenv.EventData(t, "conversation.completed", nil))
	id := down.waitRequests(t, sys, 1)[0].delivery()
	ws.call(t, "DELETE", "/v1/webhooks/"+doomed.ID, nil, http.StatusNoContent, nil)
	atDelete := len(down.requests())
	ws.call(t, "GET", "/v1/webhooks/"+doomed.ID, nil, http.StatusNotFound, nil)
	var list struct {
		Data []webhook `json:"data"`
	}
	ws.call(t, "GET", "/v1/webhooks", nil, http.StatusOK, &list)
	var listed []string
	for _, wh := range list.Data {
		listed = append(listed, wh.ID)
	}
	slices.Sort(listed)
	wantListed := []string{createdOff.ID, switchedOff.ID}
	slices.Sort(wantListed)
	if diff := cmp.Diff(wantListed, listed); diff != "" {
		t.Errorf("GET /v1/webhooks after the delete mismatch (-want +got):\n%s", diff)
	}

	// The contract (README, API): a deleted webhook's deliveries stay
	// readable by id, and the delete ends the pending one as cancelled.
	d := ws.waitFinished(t, id)
	if d.Status != "cancelled" || d.AttemptCount >= 5 {
		t.Errorf("delivery of the deleted webhook ended %s after %d attempts, want cancelled before attempt 5", d.Status, d.AttemptCount)
	}

	// Its task leaves the queue and the receiver hears no more.
	opt, err := asynq.ParseRedisURI(sys.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspector(opt)
	defer insp.Close()
	// The first attempt's task is "deliveries"/<id>, the retry for attempt
	// n is "retries"/<id>:<n>.
	locations := [][2]string{{"deliveries", id}}
	for n := 2; n <= 6; n++ {
		locations = append(locations, [2]string{"retries", fmt.Sprintf("%s:%d", id, n)})
	}
	sys.waitFor(t, "the deleted webhook's tasks to leave the queues", func() (bool, string) {
		for _, loc := range locations {
			info, err := insp.GetTaskInfo(loc[0], loc[1])
			if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
				continue
			}
			if err != nil {
				return false, err.Error()
			}
			if info.State != asynq.TaskStateCompleted && info.State != asynq.TaskStateArchived {
				return false, loc[0] + "/" + loc[1] + " is " + info.State.String()
			}
		}
		return true, ""
	})
	// The delete cancels the pending delivery in the transaction that
	// tombstones the webhook, so only an attempt already in flight then
	// may still reach the URL.
	if late := len(down.requests()) - atDelete; late > 1 {
		t.Errorf("%d requests reached the deleted webhook's URL after the delete, want at most the one in flight", late)
	}
}
