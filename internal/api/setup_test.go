package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/api"
	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/internal/queuetest"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/metrics"
	"github.com/trackelio/webhooks/repo"
)

// testAdminToken is the ADMIN_TOKEN every fixture runs with unless told otherwise.
const testAdminToken = "test-admin-token-0123456789"

// fixture is the API under test plus the handles tests use to look behind it.
type fixture struct {
	handler http.Handler
	manage  *manage.Service // its background enqueues are waited for after each request
	store   *repo.Store
	db      *sqlx.DB // a separate connection for assertions on raw rows
	enq     *queuetest.Recorder
}

// setup builds the API on a fresh migrated database. Options adjust the
// API's and the shared operations' config before the handler is built.
func setup(tb testing.TB, opts ...func(*api.Config, *manage.Config)) *fixture {
	tb.Helper()
	store, db := dbtest.NewStoreAndDB(tb)
	return setupOn(tb, store, db, opts...)
}

// setupWithHook is a fixture with a workspace, Acme, whose one active
// webhook is subscribed to events.
func setupWithHook(tb testing.TB, events ...string) (*fixture, workspace, client.Webhook) {
	tb.Helper()
	f := setup(tb)
	ws := f.mustCreateWorkspace(tb, "Acme")
	return f, ws, f.mustCreateHook(tb, ws.APIKey, events...)
}

// setupTwoWorkspaces is a fixture with two workspaces, A and B, for tests
// of what one workspace does to the other.
func setupTwoWorkspaces(tb testing.TB, opts ...func(*api.Config, *manage.Config)) (*fixture, workspace, workspace) {
	tb.Helper()
	f := setup(tb, opts...)
	return f, f.mustCreateWorkspace(tb, "A"), f.mustCreateWorkspace(tb, "B")
}

// setupOn builds the API on the given store, db being a direct pool on
// its database.
func setupOn(tb testing.TB, store *repo.Store, db *sqlx.DB, opts ...func(*api.Config, *manage.Config)) *fixture {
	tb.Helper()
	enq := &queuetest.Recorder{}
	log := slog.New(slog.DiscardHandler)
	cfg := api.Config{
		Store:      store,
		Metrics:    metrics.New(prometheus.NewRegistry()),
		Log:        log,
		AdminToken: testAdminToken,
	}
	mcfg := manage.Config{Store: store, Enqueuer: enq, Log: log}
	for _, o := range opts {
		o(&cfg, &mcfg)
	}
	if cfg.Manage == nil { // an option may have built it, to share it
		cfg.Manage = manage.New(mcfg)
	}
	return &fixture{handler: api.New(cfg), manage: cfg.Manage, store: store, db: db, enq: enq}
}

// response is a recorded API answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
	// Pattern is the mux pattern of the route that served the request.
	Pattern string
}

// request describes one call; Auth is the whole Authorization header value.
type request struct {
	Method string
	Path   string
	Auth   string
	Body   string
	Header map[string]string
	// Context, when set, is the request's: a test cancels it to hang up.
	Context context.Context
}

// do serves one request and checks the answer against api/openapi.json
// (see contract.problems); a breach fails the test.
func (f *fixture) do(tb testing.TB, req request) response {
	tb.Helper()
	r := req.http()
	if req.Context != nil {
		r = r.WithContext(req.Context)
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	f.manage.Wait()
	// The mux records on the request the pattern it routed it by.
	if problems := mustContract(tb).problems(req.http(), r.Pattern, w.Result()); len(problems) > 0 {
		tb.Errorf("%s %s answered %d, which api/openapi.json does not allow:\n%s\nbody: %s",
			req.Method, req.Path, w.Code, strings.Join(problems, "\n"), w.Body)
	}
	return response{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes(), Pattern: r.Pattern}
}

// http builds the request, with a body of its own each time.
func (req request) http() *http.Request {
	var body io.Reader = http.NoBody
	if req.Body != "" {
		body = strings.NewReader(req.Body)
	}
	r := httptest.NewRequest(req.Method, req.Path, body)
	if req.Body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if req.Auth != "" {
		r.Header.Set("Authorization", req.Auth)
	}
	for k, v := range req.Header {
		r.Header[http.CanonicalHeaderKey(k)] = []string{v}
	}
	return r
}

// call makes a request authenticated with an API key.
func (f *fixture) call(tb testing.TB, method, path, key, body string) response {
	tb.Helper()
	return f.do(tb, request{Method: method, Path: path, Auth: bearer(key), Body: body})
}

// bearer is the Authorization header value for an API key, or none for "".
func bearer(key string) string {
	if key == "" {
		return ""
	}
	return "Bearer " + key
}

// decode unmarshals the body into v; fields v does not name are ignored,
// so representations may grow without breaking these tests.
func (r response) decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		tb.Fatalf("decode response %d %s: %v", r.Status, r.Body, err)
	}
}

// decodeStrict unmarshals the body into v and fails on any field v does
// not name, for answers whose exact shape is the contract.
func (r response) decodeStrict(tb testing.TB, v any) {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		tb.Fatalf("decode response %d %s: %v", r.Status, r.Body, err)
	}
}

// answerAs checks the answer's status and decodes its body into a T,
// failing on any member T does not name, as decodeStrict does.
func answerAs[T any](tb testing.TB, res response, status int) T {
	tb.Helper()
	res.wantStatus(tb, status)
	var v T
	res.decodeStrict(tb, &v)
	return v
}

// keys returns the top-level keys of a JSON object body, sorted.
func (r response) keys(tb testing.TB) []string {
	tb.Helper()
	m := r.fields(tb)
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// wantStatus fails the test now when the status differs.
func (r response) wantStatus(tb testing.TB, want int) {
	tb.Helper()
	if r.Status != want {
		tb.Fatalf("status = %d, want %d; body: %s", r.Status, want, r.Body)
	}
}

// apiError is the body of every error answer.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// wantError checks the status and the exact error shape
// {"error":{"code","message"[,"field"]}}; the message only has to be present.
func (r response) wantError(tb testing.TB, want apiError) {
	tb.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		tb.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body struct {
		Error *apiError `json:"error"`
	}
	r.decodeStrict(tb, &body)
	if body.Error == nil {
		tb.Fatalf("no error object in %s", r.Body)
	}
	got := *body.Error
	got.Status = r.Status
	if got.Message == "" {
		tb.Errorf("error message is empty: %s", r.Body)
	}
	want.Message, got.Message = "", ""
	if diff := cmp.Diff(want, got); diff != "" {
		tb.Errorf("error mismatch (-want +got):\n%s\nbody: %s", diff, r.Body)
	}
}

// workspace is the answer of POST /v1/admin/workspaces.
type workspace struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	APIKey string `json:"api_key"`
}

// mustCreateWorkspace creates a workspace through the admin route.
func (f *fixture) mustCreateWorkspace(tb testing.TB, name string) workspace {
	tb.Helper()
	body, _ := json.Marshal(map[string]string{"name": name})
	res := f.do(tb, request{Method: "POST", Path: "/v1/admin/workspaces", Auth: bearer(testAdminToken), Body: string(body)})
	return answerAs[workspace](tb, res, http.StatusCreated)
}

// asRendered compares times by their RFC 3339 rendering, offset included,
// which is how the api writes them: a webhook read back must carry the very
// created_at and updated_at it was answered with before, not only the same
// instants.
var asRendered = cmp.Comparer(func(a, b time.Time) bool {
	return a.Format(time.RFC3339Nano) == b.Format(time.RFC3339Nano)
})

// mustCreateWebhook creates a webhook from the given request members.
func (f *fixture) mustCreateWebhook(tb testing.TB, key string, in map[string]any) client.Webhook {
	tb.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		tb.Fatal(err)
	}
	res := f.call(tb, "POST", "/v1/webhooks", key, string(body))
	res.wantStatus(tb, http.StatusCreated)
	var h client.Webhook
	res.decode(tb, &h)
	return h
}

// mustCreateHook creates an active webhook subscribed to the given types.
func (f *fixture) mustCreateHook(tb testing.TB, key string, events ...string) client.Webhook {
	tb.Helper()
	return f.mustCreateWebhook(tb, key, map[string]any{"url": "https://receiver.example/hook", "events": events})
}

// mustDeletedHook creates a webhook and deletes it, for the id of one
// that is gone.
func (f *fixture) mustDeletedHook(tb testing.TB, key string) client.Webhook {
	tb.Helper()
	hook := f.mustCreateHook(tb, key, "post.created")
	f.call(tb, "DELETE", "/v1/webhooks/"+hook.ID, key, "").wantStatus(tb, http.StatusNoContent)
	return hook
}

// mustGetWebhook reads a webhook as GET /v1/webhooks/{id} answers it.
func (f *fixture) mustGetWebhook(tb testing.TB, key, id string) client.Webhook {
	tb.Helper()
	res := f.call(tb, "GET", "/v1/webhooks/"+id, key, "")
	res.wantStatus(tb, http.StatusOK)
	var h client.Webhook
	res.decode(tb, &h)
	return h
}

// postEvent posts body to POST /v1/events under the Idempotency-Key idem,
// or none when idem is "".
func (f *fixture) postEvent(tb testing.TB, key, idem, body string) response {
	tb.Helper()
	req := request{Method: "POST", Path: "/v1/events", Auth: bearer(key), Body: body}
	if idem != "" {
		req.Header = map[string]string{"Idempotency-Key": idem}
	}
	return f.do(tb, req)
}

// mustAcceptEvent posts an event under idem and wants it accepted, as a
// replay of an earlier one (Idempotent-Replayed: true) or as a new one.
func (f *fixture) mustAcceptEvent(tb testing.TB, key, idem, body string, replayed bool) client.Event {
	tb.Helper()
	res := f.postEvent(tb, key, idem, body)
	res.wantStatus(tb, http.StatusAccepted)
	want := ""
	if replayed {
		want = "true"
	}
	if h := res.Header.Get("Idempotent-Replayed"); h != want {
		tb.Errorf("Idempotent-Replayed = %q, want %q", h, want)
	}
	var a client.Event
	res.decodeStrict(tb, &a)
	return a
}

// mustPostEvent posts a new event without an Idempotency-Key.
func (f *fixture) mustPostEvent(tb testing.TB, key, body string) client.Event {
	tb.Helper()
	return f.mustAcceptEvent(tb, key, "", body, false)
}

// tables are the tables whose row counts must not move on a refused request.
var tables = []string{"workspaces", "api_keys", "webhooks", "events", "deliveries", "delivery_attempts"}

// rowCounts counts the rows of the tables above, read straight from Postgres.
func (f *fixture) rowCounts(tb testing.TB) map[string]int {
	tb.Helper()
	return dbtest.RowCounts(tb, f.db, tables...)
}

// footprint is what a request can leave behind: the rows of the tables
// above and the deliveries enqueued.
type footprint struct {
	rows     map[string]int
	enqueued int
}

// footprint counts the rows and the deliveries enqueued so far.
func (f *fixture) footprint(tb testing.TB) footprint {
	tb.Helper()
	return footprint{rows: f.rowCounts(tb), enqueued: len(f.enq.Enqueued())}
}

// wantNoFootprint checks that what ran since before stored no row and
// enqueued no delivery; what names it in the failure messages.
func (f *fixture) wantNoFootprint(tb testing.TB, before footprint, what string) {
	tb.Helper()
	dbtest.WantRowCounts(tb, f.db, before.rows, what)
	if n := len(f.enq.Enqueued()) - before.enqueued; n != 0 {
		tb.Errorf("%s enqueued %d deliveries", what, n)
	}
}

// mustEventDelivery posts an event of the given type and returns its only
// delivery's id.
func (f *fixture) mustEventDelivery(tb testing.TB, key, typ string) string {
	tb.Helper()
	ev := f.mustPostEvent(tb, key, testfactory.EventBody(tb, typ, nil))
	ids := f.deliveryIDsOfEvent(tb, ev.ID)
	if len(ids) != 1 {
		tb.Fatalf("event has %d deliveries, want 1", len(ids))
	}
	return ids[0]
}

// deliveryIDsOfEvent lists the delivery ids stored for an event.
func (f *fixture) deliveryIDsOfEvent(tb testing.TB, eventID string) []string {
	tb.Helper()
	var ids []string
	if err := f.db.Select(&ids, `SELECT id::text FROM deliveries WHERE event_id = $1 ORDER BY id`, eventID); err != nil {
		tb.Fatalf("select deliveries: %v", err)
	}
	return ids
}

// sorted is a sorted copy of s.
func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// fields returns the raw members of a JSON object body.
func (r response) fields(tb testing.TB) map[string]json.RawMessage {
	tb.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &m); err != nil {
		tb.Fatalf("response %d is not a JSON object: %v: %s", r.Status, err, r.Body)
	}
	return m
}

// mustRecordAttempt stores an attempt the way the worker does.
func (f *fixture) mustRecordAttempt(tb testing.TB, r repo.AttemptResult) {
	tb.Helper()
	testfactory.Record(tb, f.store, r)
}
