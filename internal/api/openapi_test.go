package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	valerrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/trackelio/webhooks/internal/api"
	"github.com/trackelio/webhooks/internal/catalog"
	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/internal/testfactory"
)

// contract is api/openapi.json, ready to hold answers to it.
type contract struct {
	doc       libopenapi.Document
	model     *v3.Document
	validator validator.Validator
	// errorSchema and schemas check the answers of requests no route
	// serves, which have no operation to be checked against.
	errorSchema *base.Schema
	schemas     schema_validation.SchemaValidator
}

// loadContract builds the contract once per test binary: compiling every
// schema of the document takes a while.
var loadContract = sync.OnceValues(func() (*contract, error) {
	doc, err := libopenapi.NewDocument(api.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("parse api/openapi.json: %w", err)
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("build the OpenAPI model of api/openapi.json: %w", err)
	}
	errProxy := m.Model.Components.Schemas.GetOrZero("Error")
	if errProxy == nil {
		return nil, fmt.Errorf("api/openapi.json has no components/schemas/Error")
	}
	errSchema, err := errProxy.BuildSchema()
	if err != nil {
		return nil, fmt.Errorf("build components/schemas/Error: %w", err)
	}
	// Formats are asserted, so an id must be a UUID and a time RFC 3339.
	v := validator.NewValidatorFromV3Model(&m.Model, config.WithFormatAssertions())
	v.SetDocument(doc)
	return &contract{
		doc: doc, model: &m.Model, validator: v,
		errorSchema: errSchema, schemas: schema_validation.NewSchemaValidator(config.WithFormatAssertions()),
	}, nil
})

func mustContract(tb testing.TB) *contract {
	tb.Helper()
	c, err := loadContract()
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// operation returns the path item and operation the document describes
// for a method and path template, or nils.
func (c *contract) operation(method, path string) (*v3.PathItem, *v3.Operation) {
	item := c.model.Paths.PathItems.GetOrZero(path)
	if item == nil {
		return nil, nil
	}
	return item, item.GetOperations().GetOrZero(strings.ToLower(method))
}

// uiPath reports whether a path belongs to the HTML UIs New mounts beside
// the JSON API (the dashboard with its favicon, and asynqmon), which the
// document leaves out.
func uiPath(path string) bool {
	return path == "/dashboard" || path == "/favicon.ico" || strings.HasPrefix(path, "/dashboard/") || strings.HasPrefix(path, "/monitoring/")
}

// problems says how an answer breaks the document; none is nil. req is the
// request with its body unread, pattern the mux pattern that served it.
// An answer is checked against the operation of the route that served it,
// and so is a request answered 2xx: what the server accepts, the document
// must allow. A request no route serves gets the catch-all's 404 or a
// path's 405, which must be the shared Error.
func (c *contract) problems(req *http.Request, pattern string, res *http.Response) []string {
	method, path, routed := strings.Cut(pattern, " ")
	if !routed {
		method, path = "", pattern
	}
	if uiPath(path) {
		return nil
	}
	if !routed {
		if path != "/" && c.model.Paths.PathItems.GetOrZero(path) == nil {
			return []string{fmt.Sprintf("the server serves %s but api/openapi.json does not describe it", path)}
		}
		return c.unroutedProblems(res)
	}
	item, op := c.operation(method, path)
	if op == nil {
		return []string{fmt.Sprintf("the server serves %s but api/openapi.json does not describe it", pattern)}
	}
	_, errs := c.validator.GetResponseBodyValidator().ValidateResponseBodyWithPathItem(req, res, item, path)
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		_, reqErrs := c.validator.ValidateHttpRequestWithPathItem(req, item, path)
		errs = append(errs, reqErrs...)
	}
	return describe(errs)
}

func (c *contract) unroutedProblems(res *http.Response) []string {
	var out []string
	if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusMethodNotAllowed {
		out = append(out, fmt.Sprintf("a request no route serves answered %d, want 404 or 405", res.StatusCode))
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		out = append(out, fmt.Sprintf("a request no route serves answered Content-Type %q, want application/json", ct))
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return append(out, "read the answer: "+err.Error())
	}
	_, errs := c.schemas.ValidateSchemaBytes(c.errorSchema, body)
	return append(out, describe(errs)...)
}

// describe renders the validator's findings, one line each.
func describe(errs []*valerrors.ValidationError) []string {
	var out []string
	for _, e := range errs {
		line := e.Message
		if e.Reason != "" {
			line += ": " + e.Reason
		}
		for _, f := range e.SchemaValidationErrors {
			line += fmt.Sprintf("\n    %s (at %s, schema %s)", f.Reason, f.FieldPath, f.KeywordLocation)
		}
		out = append(out, line)
	}
	return out
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	c := mustContract(t)
	if got := c.doc.GetVersion(); got != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", got)
	}
	if ok, errs := c.validator.ValidateDocument(); !ok {
		t.Errorf("api/openapi.json is not a valid OpenAPI 3.1 document:\n%s", strings.Join(describe(errs), "\n"))
	}
	// Every schema compiles, so none can fail only once an answer reaches it.
	for name, proxy := range c.model.Components.Schemas.FromOldest() {
		if _, err := proxy.BuildSchema(); err != nil {
			t.Errorf("components/schemas/%s: %v", name, err)
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	f := setup(t)
	res := f.do(t, request{Method: "GET", Path: "/v1/openapi.json"})
	res.wantStatus(t, http.StatusOK)
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("Cache-Control = %q, want public, max-age=300", cc)
	}
	if !bytes.Equal(res.Body, api.OpenAPI()) {
		t.Error("GET /v1/openapi.json differs from api.OpenAPI()")
	}
	// The document the tests hold the API to is the one it serves.
	served, err := libopenapi.NewDocument(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := served.BuildV3Model(); err != nil {
		t.Errorf("the served document does not build: %v", err)
	}
}

// TestOpenAPIDescribesEveryRoute: every operation of the document reaches
// the route of that method and path template, and every method a described
// path serves is described. TestOpenAPIRouteTable compares the table
// itself, and fixture.do fails any request a route serves without an
// operation for it.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	c := mustContract(t)
	// With a Portal, as when the dashboard is served, every route exists;
	// the probes carry no key, so it is never asked for a link.
	f := setup(t, func(c *api.Config, _ *manage.Config) { c.Portal = &fakePortal{} })
	for path, item := range c.model.Paths.PathItems.FromOldest() {
		var described []string
		for method := range item.GetOperations().FromOldest() {
			method = strings.ToUpper(method)
			described = append(described, method)
			// Unauthenticated, with ids that name nothing: the answer is
			// checked like any other, and the route must be the one that
			// served it.
			res := f.do(t, request{Method: method, Path: strings.ReplaceAll(path, "{id}", uuid.NewString())})
			if want := method + " " + path; res.Pattern != want {
				t.Errorf("%s is described but the server routed it to %q", want, res.Pattern)
			}
		}
		// A method no route uses reaches the path's 405, which lists the
		// methods the path serves.
		res := f.do(t, request{Method: "PROBE", Path: strings.ReplaceAll(path, "{id}", uuid.NewString())})
		if res.Status != http.StatusMethodNotAllowed {
			t.Errorf("PROBE %s answered %d, want 405 listing the methods it serves", path, res.Status)
			continue
		}
		served := strings.Split(res.Header.Get("Allow"), ", ")
		if diff := cmp.Diff(sorted(described), sorted(served)); diff != "" {
			t.Errorf("methods of %s (-described +served):\n%s", path, diff)
		}
	}
}

// TestOpenAPIRouteTable: every route of the server's table, a new one on a
// path no test calls yet included, has an operation in the document, and
// the document describes no operation the table lacks.
func TestOpenAPIRouteTable(t *testing.T) {
	t.Parallel()
	c := mustContract(t)
	var described []string
	for path, item := range c.model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().FromOldest() {
			described = append(described, strings.ToUpper(method)+" "+path)
		}
	}
	table := api.RouteTable(api.Config{Portal: &fakePortal{}})
	if diff := cmp.Diff(sorted(table), sorted(described)); diff != "" {
		t.Errorf("routes (-server's table +described):\n%s", diff)
	}
}

// fakePortal is an api.Portal whose NewLink calls NewLinkFunc.
type fakePortal struct {
	NewLinkFunc func(ctx context.Context, r *http.Request, workspaceID string) (string, time.Time, error)
}

var _ api.Portal = (*fakePortal)(nil)

func (p *fakePortal) NewLink(ctx context.Context, r *http.Request, workspaceID string) (string, time.Time, error) {
	return p.NewLinkFunc(ctx, r, workspaceID)
}

// TestOpenAPIProblems feeds the check fixture.do makes answers that break
// the document, and one that keeps it, so the check is known to bite.
func TestOpenAPIProblems(t *testing.T) {
	t.Parallel()
	c := mustContract(t)
	id := uuid.NewString()
	webhook := map[string]any{
		"id": id, "url": "https://receiver.example/hook", "events": []string{"post.created"}, "active": true,
		"description": "", "failure_count": 0, "consecutive_failures": 0, "disabled_reason": nil, "disabled_at": nil,
		"last_success_at": nil, "last_failure_at": nil, "success_rate_24h": nil,
		"created_at": "2026-11-30T17:02:44.123456Z", "updated_at": "2026-11-30T17:02:44.123456Z",
		"notify_emails": []string{"ops@acme.example"}, "notify_on": []string{"webhook.failing"}, "notice_stage": "at_risk",
	}
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{k: v}
		for mk, mv := range m {
			if mk != k {
				out[mk] = mv
			}
		}
		return out
	}
	without := func(m map[string]any, k string) map[string]any {
		out := with(m, k, nil)
		delete(out, k)
		return out
	}
	errorBody := map[string]any{"error": map[string]any{"code": "not_found", "message": "no such resource"}}
	authed := map[string]string{"Authorization": "Bearer trk_x"}
	tests := []struct {
		name    string
		method  string
		path    string
		reqBody string
		header  map[string]string
		pattern string
		status  int
		resHdr  map[string]string
		resBody any
		wantOK  bool
	}{
		{"a webhook as described", "GET", "/v1/webhooks/" + id, "", authed, "GET /v1/webhooks/{id}", 200, nil, webhook, true},
		{"a webhook with an undescribed member", "GET", "/v1/webhooks/" + id, "", authed, "GET /v1/webhooks/{id}", 200, nil, with(webhook, "secret", "whsec_x"), false},
		{"a webhook without a member", "GET", "/v1/webhooks/" + id, "", authed, "GET /v1/webhooks/{id}", 200, nil, without(webhook, "disabled_at"), false},
		{"a webhook id that is not a UUID", "GET", "/v1/webhooks/" + id, "", authed, "GET /v1/webhooks/{id}", 200, nil, with(webhook, "id", "42"), false},
		{"an unknown notice stage", "GET", "/v1/webhooks/" + id, "", authed, "GET /v1/webhooks/{id}", 200, nil, with(webhook, "notice_stage", "on_fire"), false},
		{"eleven notification addresses", "GET", "/v1/webhooks/" + id, "", authed, "GET /v1/webhooks/{id}", 200, nil,
			with(webhook, "notify_emails", strings.Split(strings.Repeat("a@b.example,", 10)+"a@b.example", ",")), false},
		{"a time that is not RFC 3339", "GET", "/v1/webhooks/" + id, "", authed, "GET /v1/webhooks/{id}", 200, nil, with(webhook, "created_at", "yesterday"), false},
		{"an undescribed status", "GET", "/v1/webhooks/" + id, "", authed, "GET /v1/webhooks/{id}", 418, nil, errorBody, false},
		{"an error as described", "GET", "/v1/webhooks/" + id, "", authed, "GET /v1/webhooks/{id}", 404, nil, errorBody, true},
		{"an error with an undescribed member", "GET", "/v1/webhooks/" + id, "", authed, "GET /v1/webhooks/{id}", 404, nil,
			map[string]any{"error": map[string]any{"code": "not_found", "message": "no", "status": 404}}, false},
		{"an error without a message", "GET", "/v1/webhooks/" + id, "", authed, "GET /v1/webhooks/{id}", 404, nil,
			map[string]any{"error": map[string]any{"code": "not_found"}}, false},
		{"an undescribed error code", "GET", "/v1/webhooks/" + id, "", authed, "GET /v1/webhooks/{id}", 404, nil,
			map[string]any{"error": map[string]any{"code": "gone", "message": "no"}}, false},
		{"a 429 without Retry-After", "GET", "/v1/webhooks", "", authed, "GET /v1/webhooks", 429, nil,
			map[string]any{"error": map[string]any{"code": "rate_limited", "message": "slow down"}}, false},
		{"a 429 with Retry-After", "GET", "/v1/webhooks", "", authed, "GET /v1/webhooks", 429, map[string]string{"Retry-After": "3"},
			map[string]any{"error": map[string]any{"code": "rate_limited", "message": "slow down"}}, true},
		{"a route the document lacks", "GET", "/v1/secrets", "", authed, "GET /v1/secrets", 200, nil, map[string]any{}, false},
		{"a request the document refuses answered 201", "POST", "/v1/webhooks", `{"url":"https://x.example","events":["post.created"],"secret":"whsec_x"}`,
			authed, "POST /v1/webhooks", 201, nil, with(webhook, "secret", "whsec_"+strings.Repeat("A", 43)+"="), false},
		{"a request the document refuses answered 422", "POST", "/v1/webhooks", `{"url":"https://x.example","events":["post.created"],"secret":"whsec_x"}`,
			authed, "POST /v1/webhooks", 422, nil, map[string]any{"error": map[string]any{"code": "validation_failed", "message": "unknown field", "field": "secret"}}, true},
		{"the last page", "GET", "/v1/webhooks/" + id + "/deliveries", "", authed, "GET /v1/webhooks/{id}/deliveries", 200, nil,
			map[string]any{"data": []any{}, "next_cursor": nil}, true},
		{"an empty cursor, which reads like the last page's null", "GET", "/v1/webhooks/" + id + "/deliveries", "", authed, "GET /v1/webhooks/{id}/deliveries", 200, nil,
			map[string]any{"data": []any{}, "next_cursor": ""}, false},
		{"the catch-all's error", "GET", "/v2/nothing", "", nil, "/", 404, nil, errorBody, true},
		{"the catch-all answering something else", "GET", "/v2/nothing", "", nil, "/", 404, nil, map[string]any{"message": "no"}, false},
		{"a path the document lacks answering 405", "PUT", "/v1/secrets", "", nil, "/v1/secrets", 405, nil,
			map[string]any{"error": map[string]any{"code": "method_not_allowed", "message": "no"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.reqBody))
			if tt.reqBody != "" {
				r.Header.Set("Content-Type", "application/json")
			}
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			for k, v := range tt.resHdr {
				w.Header().Set(k, v)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(tt.status)
			if err := json.NewEncoder(w).Encode(tt.resBody); err != nil {
				t.Fatal(err)
			}
			problems := c.problems(r, tt.pattern, w.Result())
			if ok := len(problems) == 0; ok != tt.wantOK {
				t.Errorf("problems = %q, want ok = %v", problems, tt.wantOK)
			}
		})
	}
}

// TestOpenAPIErrorIsShared: every error answer of every operation is the
// one Error schema, through a shared response. The 503 of /readyz is no
// error but the readiness report.
func TestOpenAPIErrorIsShared(t *testing.T) {
	t.Parallel()
	c := mustContract(t)
	for path, item := range c.model.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			for code, res := range op.Responses.Codes.FromOldest() {
				if code[0] != '4' && code[0] != '5' || path == "/readyz" {
					continue
				}
				if !strings.HasPrefix(res.GoLow().GetReference(), "#/components/responses/") {
					t.Errorf("%s %s %s is not one of components/responses", method, path, code)
				}
				media := res.Content.GetOrZero("application/json")
				if res.Content.Len() != 1 || media == nil || media.Schema.GetReference() != "#/components/schemas/Error" {
					t.Errorf("%s %s %s is not the shared Error", method, path, code)
				}
			}
		}
	}
}

// TestOpenAPIOperationalWebhooks: the document describes what an
// operational webhook receives. Its webhooks are the catalog's operational
// types, in order, each a POST of its type's envelope; the envelope of each
// type's catalog example is accepted, and the data schema says of every
// member what the catalog's schema says (required, type, format, values),
// so the two, written apart, cannot drift. The list of event types marks
// the operational ones.
func TestOpenAPIOperationalWebhooks(t *testing.T) {
	t.Parallel()
	c := mustContract(t)
	var doc map[string]any
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, e := range catalog.Operational() {
		want = append(want, e.Type)
	}
	for name := range c.model.Webhooks.KeysFromOldest() {
		got = append(got, name)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("webhooks (-operational types +described):\n%s", diff)
	}
	if diff := cmp.Diff(want, jsonStrings(at(doc, "components", "schemas", "OperationalEventType", "enum"))); diff != "" {
		t.Errorf("OperationalEventType (-operational types +described):\n%s", diff)
	}
	item := at(doc, "components", "schemas", "EventTypeList", "properties", "data", "items").(map[string]any)
	if !slices.Contains(jsonStrings(item["required"]), "operational") || at(item, "properties", "operational", "type") != "boolean" {
		t.Errorf("an event type of the list has no required boolean operational: %v", item)
	}

	for _, ct := range testfactory.Schemas().Contracts() {
		if !ct.Operational {
			continue
		}
		t.Run(ct.Type, func(t *testing.T) {
			item := c.model.Webhooks.GetOrZero(ct.Type)
			if item == nil || item.Post == nil || item.Post.RequestBody == nil {
				t.Fatalf("webhooks/%s describes no POST with a body", ct.Type)
			}
			media := item.Post.RequestBody.Content.GetOrZero("application/json")
			if media == nil {
				t.Fatalf("webhooks/%s receives no application/json", ct.Type)
			}
			payload, err := media.Schema.BuildSchema()
			if err != nil {
				t.Fatal(err)
			}
			envelope := func(typ string, data []byte) []byte {
				return fmt.Appendf(nil, `{"id":%q,"type":%q,"created_at":"2026-11-30T14:03:27.123456789Z","workspace_id":%q,"data":%s}`,
					uuid.NewString(), typ, uuid.NewString(), data)
			}
			if _, errs := c.schemas.ValidateSchemaBytes(payload, envelope(ct.Type, ct.Example)); len(errs) > 0 {
				t.Errorf("the envelope of the catalog's example is refused:\n%s", strings.Join(describe(errs), "\n"))
			}
			if ok, _ := c.schemas.ValidateSchemaBytes(payload, envelope("post.created", ct.Example)); ok {
				t.Error("the payload of a customer type is accepted")
			}

			var catalogSchema map[string]any
			if err := json.Unmarshal(ct.Schema, &catalogSchema); err != nil {
				t.Fatal(err)
			}
			wantMembers := schemaMembers(catalogSchema)
			gotMembers := map[string]map[string]any{}
			for ptr, m := range schemaMembers(doc, "webhooks", ct.Type, "post", "requestBody", "content", "application/json", "schema") {
				if data, ok := strings.CutPrefix(ptr, "/data/"); ok {
					gotMembers["/"+data] = m
				}
			}
			delete(wantMembers, "")
			if diff := cmp.Diff(wantMembers, gotMembers); diff != "" {
				t.Errorf("members of data (-catalog +api/openapi.json):\n%s", diff)
			}
		})
	}
}

// schemaMembers flattens the schema at path in root into what it says of
// each member of the values it accepts, by JSON pointer: whether it is
// required, and the keywords that constrain it. It follows local $refs and
// allOf, so two schemas composed differently compare equal when they
// accept the same members.
func schemaMembers(root map[string]any, path ...string) map[string]map[string]any {
	out := map[string]map[string]any{}
	member := func(ptr string) map[string]any {
		if out[ptr] == nil {
			out[ptr] = map[string]any{}
		}
		return out[ptr]
	}
	var walk func(node map[string]any, ptr string)
	walk = func(node map[string]any, ptr string) {
		m := member(ptr)
		for k, v := range node {
			switch k {
			case "$ref":
				ref, _ := strings.CutPrefix(v.(string), "#/")
				walk(at(root, strings.Split(ref, "/")...).(map[string]any), ptr)
			case "allOf":
				for _, sub := range v.([]any) {
					walk(sub.(map[string]any), ptr)
				}
			case "properties":
				for name, sub := range v.(map[string]any) {
					walk(sub.(map[string]any), ptr+"/"+name)
				}
			case "required":
				for _, name := range jsonStrings(v) {
					member(ptr + "/" + name)["required"] = true
				}
			case "type", "format", "enum", "const", "anyOf", "minimum", "maximum", "minLength", "maxLength":
				m[k] = v
			}
		}
	}
	walk(at(root, path...).(map[string]any), "")
	return out
}

// at is the value at path in a decoded JSON document, nil when there is
// none.
func at(v any, path ...string) any {
	for _, key := range path {
		m, _ := v.(map[string]any)
		v = m[key]
	}
	return v
}

// jsonStrings is a decoded JSON array of strings as a slice.
func jsonStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}
