package api_test

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/testfactory"
)

// mustRefuseEvent posts body under the Idempotency-Key idem and checks the
// refusal, its message too when want has one, and that nothing was stored
// or enqueued.
func (f *fixture) mustRefuseEvent(tb testing.TB, apiKey, idem, body string, want apiError) {
	tb.Helper()
	before := f.footprint(tb)
	res := f.postEvent(tb, apiKey, idem, body)
	res.wantError(tb, apiError{Status: want.Status, Code: want.Code, Field: want.Field})
	var got struct {
		Error apiError `json:"error"`
	}
	res.decode(tb, &got)
	if want.Message != "" && got.Error.Message != want.Message {
		tb.Errorf("message %q, want %q", got.Error.Message, want.Message)
	}
	if h := res.Header.Get("Idempotent-Replayed"); h != "" {
		tb.Errorf("Idempotent-Replayed = %q on a refusal", h)
	}
	f.wantNoFootprint(tb, before, "a refused event")
}

// TestCreateEventRefusesInvalidUTF8 sends data whose string holds a byte that
// is not UTF-8. JSON text must be UTF-8 (RFC 8259 §8.1), and the published
// Node receiver reads the raw body as a string before computing the HMAC, so
// such a body would fail verification at every receiver. The API must refuse
// it, or store a body that is valid UTF-8.
func TestCreateEventRefusesInvalidUTF8(t *testing.T) {
	t.Parallel()
	f, ws, _ := setupWithHook(t, "post.created")

	for _, data := range []string{"{\"s\":\"\xff\"}", "{\"s\":\"\xed\xa0\x80\"}", "{\"\xc3\":1}"} {
		t.Run(strings.ToValidUTF8(data, "?"), func(t *testing.T) {
			res := f.call(t, "POST", "/v1/events", ws.APIKey, `{"type":"post.created","data":`+withPost(data)+`}`)
			switch res.Status {
			case http.StatusBadRequest, http.StatusUnprocessableEntity:
				return
			case http.StatusAccepted:
				var got client.Event
				res.decodeStrict(t, &got)
				if body := f.mustEvent(t, got.ID).Body; !utf8.Valid(body) {
					t.Errorf("accepted and stored a body that is not UTF-8: %q", body)
				}
			default:
				t.Errorf("status = %d, want 400, 422, or 202 with a UTF-8 body; body: %s", res.Status, res.Body)
			}
		})
	}
}

// TestCreateEventValidatesData: data its type's schema refuses, data nested
// more than 32 levels deep (data itself the first) or giving an object key
// twice, and a request giving a field twice are a 422 naming the JSON
// pointer of the first bad value, or the field; nothing is stored, enqueued
// or used up: the same key then takes the corrected event.
func TestCreateEventValidatesData(t *testing.T) {
	t.Parallel()
	f, ws, _ := setupWithHook(t, "post.created", "nps.submitted", "conversation.completed")
	tooDeep := "/data/deep" + strings.Repeat("/0", 31)

	tests := []struct {
		name, body, field string
		message           string // compared when set
	}{
		{name: "post without an id", body: `{"type":"post.created","data":{"post":{"title":"T","status":"open","board":{"id":"b"},"author":{"id":"u"}},"source":"widget"}}`, field: "/data/post/id"},
		{name: "unknown source", body: `{"type":"post.created","data":{` + requiredPost[:strings.LastIndex(requiredPost, ",")] + `,"source":"email"}}`, field: "/data/source"},
		{name: "an empty data object", body: `{"type":"nps.submitted","data":{}}`, field: "/data/id"},
		{name: "score out of range", body: `{"type":"nps.submitted","data":` + testfactory.EventData(t, "nps.submitted", map[string]any{"score": 11}) + `}`, field: "/data/score"},
		{name: "a score as a string", body: `{"type":"nps.submitted","data":` + testfactory.EventData(t, "nps.submitted", map[string]any{"score": "9"}) + `}`, field: "/data/score"},
		{name: "a time that is not RFC 3339", body: `{"type":"conversation.completed","data":` + testfactory.EventData(t, "conversation.completed",
			map[string]any{"timings": map[string]any{"started_at": "30/11/2026", "completed_at": "2026-11-30T16:58:12Z"}}) + `}`, field: "/data/timings/started_at"},
		{name: "5,000 levels in 10 KB", body: `{"type":"post.created","data":` + withPost(`{"deep":`+nested(5000, "1")+`}`) + `}`, field: tooDeep,
			message: "data" + strings.TrimPrefix(tooDeep, "/data") + ": objects and arrays nested more than 32 levels deep"},
		{name: "33 levels", body: `{"type":"post.created","data":` + withPost(`{"deep":`+nested(32, "1")+`}`) + `}`, field: tooDeep},
		{name: "a key twice", body: `{"type":"nps.submitted","data":{"id":"n1","score":11,"score":9,"respondent":{"id":"u"}}}`, field: "/data/score",
			message: `data/score: duplicate key "score"`},
		{name: "a key twice, once escaped", body: `{"type":"nps.submitted","data":{"id":"n1","score":9,"\u0073core":9,"respondent":{"id":"u"}}}`, field: "/data/score"},
		{name: "a nested key twice", body: `{"type":"nps.submitted","data":{"id":"n1","score":9,"respondent":{"id":"u","id":"v"}}}`, field: "/data/respondent/id"},
		{name: "a request field twice", body: `{"type":"post.created","type":"nps.submitted","data":` + testfactory.EventData(t, "nps.submitted", nil) + `}`,
			field: "type", message: `field "type" given twice`},
		{name: "a request field twice, in another case", body: `{"type":"nps.submitted","data":{},"Data":` + testfactory.EventData(t, "nps.submitted", nil) + `}`, field: "Data"},
		{name: "a request field twice, once escaped, after data holding look-alikes",
			body: `{"type":"nps.submitted","data":{"type":[{"type":"}]"}],"s":"\\\",\"type\":"},"\u0074ype":"nps.submitted"}`, field: "type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.mustRefuseEvent(t, ws.APIKey, "k-"+tt.name, tt.body,
				apiError{Status: 422, Code: "validation_failed", Field: tt.field, Message: tt.message})
		})
	}
	// A refused key stays unused: the corrected event is a new one.
	f.mustAcceptEvent(t, ws.APIKey, "k-"+tests[2].name, testfactory.EventBody(t, "nps.submitted", nil), false)
}

// nested is inner inside n arrays.
func nested(n int, inner string) string {
	return strings.Repeat("[", n) + inner + strings.Repeat("]", n)
}

// TestCreateEventRefusesDeepDataCheaply: a 10 KB event nesting 5,000
// levels deep is refused without anything building the document: the
// whole request, from reading the body to writing the 422, allocates less
// than maxBytes (before the shape check, accepting it took 930 KB). Most
// of what is left is encoding/json's strict decode of the request, whose
// scanner keeps a stack as deep as the body, up to its own limit of 10,000
// levels. Not parallel: the allocation counter is the process's.
func TestCreateEventRefusesDeepDataCheaply(t *testing.T) {
	const maxBytes = 512 << 10
	f := setup(t)
	ws := f.mustCreateWorkspace(t, "Acme")
	req := request{Method: "POST", Path: "/v1/events", Auth: bearer(ws.APIKey),
		Body: `{"type":"post.created","data":` + withPost(`{"deep":`+nested(5000, "1")+`}`) + `}`}
	serve := func() {
		w := httptest.NewRecorder()
		f.handler.ServeHTTP(w, req.http())
		if w.Code != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422: %s", w.Code, w.Body)
		}
	}
	serve() // warm up: the key's first lookup, the pools
	const runs = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		serve()
	}
	runtime.ReadMemStats(&after)
	perRequest := (after.TotalAlloc - before.TotalAlloc) / runs
	t.Logf("a %d-byte event nesting 5,000 levels: %d bytes allocated per request", len(req.Body), perRequest)
	if perRequest > maxBytes {
		t.Errorf("%d bytes allocated per request, want at most %d", perRequest, maxBytes)
	}
}
