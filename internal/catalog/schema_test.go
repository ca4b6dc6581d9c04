package catalog_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/trackelio/webhooks/internal/catalog"
	"github.com/trackelio/webhooks/internal/delivery"
)

func load(t testing.TB) *catalog.Schemas {
	t.Helper()
	s, err := catalog.LoadSchemas()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEveryTypeHasAContract(t *testing.T) {
	s := load(t)
	var got []catalog.EventType
	for _, c := range s.Contracts() {
		got = append(got, c.EventType)
		if c.Description == "" || len(c.Schema) == 0 || len(c.Example) == 0 {
			t.Errorf("%s: incomplete contract %+v", c.Type, c)
		}
	}
	want := append(catalog.All(), catalog.Operational()...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("contracts (-catalog +got):\n%s", diff)
	}
}

func TestExamplesValidate(t *testing.T) {
	s := load(t)
	for _, c := range s.Contracts() {
		if err := s.Validate(c.Type, c.Example); err != nil {
			t.Errorf("%s: its example is refused: %v", c.Type, err)
		}
	}
}

// The published schema must stand alone: a receiver compiles it with no
// other document, and it must judge the example as the service does.
func TestPublishedSchemasStandAlone(t *testing.T) {
	for _, c := range load(t).Contracts() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(c.Schema))
		if err != nil {
			t.Fatalf("%s: %v", c.Type, err)
		}
		comp := jsonschema.NewCompiler()
		comp.AssertFormat()
		// Any fetch of another document fails the compile.
		comp.UseLoader(refuseLoader{})
		if err := comp.AddResource("receiver.json", doc); err != nil {
			t.Fatalf("%s: %v", c.Type, err)
		}
		sch, err := comp.Compile("receiver.json")
		if err != nil {
			t.Fatalf("%s: the published schema does not compile alone: %v", c.Type, err)
		}
		ex, _ := jsonschema.UnmarshalJSON(bytes.NewReader(c.Example))
		if err := sch.Validate(ex); err != nil {
			t.Errorf("%s: the published schema refuses the example: %v", c.Type, err)
		}
		if strings.Contains(string(c.Schema), "defs.json") {
			t.Errorf("%s: the published schema still refers to defs.json", c.Type)
		}
	}
}

// TestNoticeFiguresValidate holds the operational schemas to what the
// service sends: delivery.Figures as encoding/json writes them, times to
// the nanosecond in UTC and in an offset zone, so neither can drift from
// the other.
func TestNoticeFiguresValidate(t *testing.T) {
	s := load(t)
	since := time.Date(2026, 11, 30, 14, 3, 27, 123456789, time.UTC)
	last := since.Add(97*time.Minute + 651462*time.Nanosecond).In(time.FixedZone("IST", 5*3600+30*60))
	next, disableAt := last.Add(30*time.Minute), since.Add(5*24*time.Hour)
	hook := delivery.NoticeWebhook{ID: "019ad4f2-6c3e-7a10-9b42-5e1f0c8d2a17", URL: "https://hooks.acme.example/trackelio", Description: "CRM sync"}
	page := "https://webhooks.trackelio.com/dashboard/webhooks/" + hook.ID
	tests := []struct {
		name    string
		notice  delivery.Notice
		figures delivery.Figures
	}{
		{"failing, every figure of a streak set", delivery.NoticeFailing, delivery.Figures{
			Webhook: hook, State: string(delivery.Failing), FailingSince: &since, ConsecutiveFailures: 8, LastFailureAt: &last,
			LastStatusCode: new(503), LastError: new("receiver answered 503 Service Unavailable"), NextAttemptAt: &next, DisableAt: &disableAt,
			DashboardURL: page,
		}},
		{"at risk, after a timeout", delivery.NoticeAtRisk, delivery.Figures{
			Webhook: hook, State: string(delivery.StageAtRisk), FailingSince: &since, ConsecutiveFailures: 61, LastFailureAt: &last,
			LastError: new("timed out after 10s"), NextAttemptAt: &next, DisableAt: &disableAt, DashboardURL: page,
		}},
		{"disabled after a 410 Gone, without a public address", delivery.NoticeDisabled, delivery.Figures{
			Webhook: delivery.NoticeWebhook{ID: hook.ID, URL: hook.URL}, State: string(delivery.Disabled), FailingSince: &since, ConsecutiveFailures: 1,
			LastFailureAt: &last, LastStatusCode: new(410), LastError: new("receiver answered 410 Gone"),
			DisabledReason: new(delivery.DisabledGone), DisabledAt: &last,
		}},
		{"recovered, every time, code and reason null", delivery.NoticeRecovered, delivery.Figures{
			Webhook: hook, State: string(delivery.Healthy), DashboardURL: page,
		}},
		{"exhausted, with its delivery", delivery.NoticeExhausted, delivery.Figures{
			Webhook: hook, State: string(delivery.Failing), FailingSince: &since, ConsecutiveFailures: 23, LastFailureAt: &last,
			LastError: new("connection refused"), DisableAt: &disableAt,
			Delivery: &delivery.NoticeDelivery{
				ID: "019ad4f2-6c41-7c2d-8e11-a3b4c5d6e7f8", EventID: "019ad4f2-6c3f-7d55-a0c9-1b2c3d4e5f60", EventType: "post.created",
				Attempts: 8, LastError: new("connection refused"), FinishedAt: last,
			},
			DashboardURL: "https://webhooks.trackelio.com/dashboard/deliveries/019ad4f2-6c41-7c2d-8e11-a3b4c5d6e7f8",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := json.Marshal(tt.figures)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(string(tt.notice), data); err != nil {
				t.Errorf("the %s schema refuses what the service sends: %v\n%s", tt.notice, err, data)
			}
			wantDescribed(t, s, string(tt.notice), data)
		})
	}
}

// wantDescribed fails the test for each member of data, nested ones
// included, that the schema of typ does not describe, which it would
// accept as an addition: set to an array, which no described member of
// these schemas may be, it must be refused.
func wantDescribed(t *testing.T, s *catalog.Schemas, typ string, data []byte) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(obj map[string]any, ptr string)
	walk = func(obj map[string]any, ptr string) {
		for k, v := range obj {
			obj[k] = []any{}
			changed, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			if s.Validate(typ, changed) == nil {
				t.Errorf("the %s schema does not describe data%s/%s", typ, ptr, k)
			}
			obj[k] = v
			if child, ok := v.(map[string]any); ok {
				walk(child, ptr+"/"+k)
			}
		}
	}
	walk(doc, "")
}

type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) { return nil, errors.New("no fetching: " + url) }

// change returns the example of typ with edit applied to its decoded form.
func change(t testing.TB, s *catalog.Schemas, typ string, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(s.Example(typ), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func obj(m map[string]any, key string) map[string]any { return m[key].(map[string]any) }

func TestSchemasRefuseBadData(t *testing.T) {
	s := load(t)
	tests := []struct {
		name, typ   string
		edit        func(m map[string]any)
		raw         string // used instead of edit when set
		wantPointer string
		wantMessage string
	}{
		{name: "post.created without post", typ: "post.created", edit: func(m map[string]any) { delete(m, "post") },
			wantPointer: "/post", wantMessage: "data/post is required"},
		{name: "post.created without a post id", typ: "post.created", edit: func(m map[string]any) { delete(obj(m, "post"), "id") },
			wantPointer: "/post/id"},
		{name: "post.created with an empty post id", typ: "post.created", edit: func(m map[string]any) { obj(m, "post")["id"] = "" },
			wantPointer: "/post/id"},
		{name: "post.created with a numeric title", typ: "post.created", edit: func(m map[string]any) { obj(m, "post")["title"] = 7 },
			wantPointer: "/post/title", wantMessage: "data/post/title: got number, want string"},
		{name: "post.created from an unknown source", typ: "post.created", edit: func(m map[string]any) { m["source"] = "email" },
			wantPointer: "/source"},
		{name: "post.created without a board", typ: "post.created", edit: func(m map[string]any) { delete(obj(m, "post"), "board") },
			wantPointer: "/post/board"},
		{name: "post.created with an author lacking an id", typ: "post.created", edit: func(m map[string]any) { delete(obj(obj(m, "post"), "author"), "id") },
			wantPointer: "/post/author/id"},
		{name: "post.created with a bad created_at", typ: "post.created", edit: func(m map[string]any) { obj(m, "post")["created_at"] = "yesterday" },
			wantPointer: "/post/created_at"},
		{name: "post.created with a bad author email", typ: "post.created", edit: func(m map[string]any) { obj(obj(m, "post"), "author")["email"] = "not an email" },
			wantPointer: "/post/author/email"},
		{name: "two faults: the first pointer wins", typ: "post.created", edit: func(m map[string]any) {
			m["source"] = "fax"
			delete(obj(m, "post"), "title")
		}, wantPointer: "/post/title"},
		{name: "post.status_changed without the new status", typ: "post.status_changed", edit: func(m map[string]any) { delete(m, "new_status") },
			wantPointer: "/new_status"},
		{name: "post.status_changed without changed_by", typ: "post.status_changed", edit: func(m map[string]any) { delete(m, "changed_by") },
			wantPointer: "/changed_by"},
		{name: "post.assigned with an assignee as a string", typ: "post.assigned", edit: func(m map[string]any) { m["assignee"] = "mei" },
			wantPointer: "/assignee"},
		{name: "comment.created without a body", typ: "comment.created", edit: func(m map[string]any) { delete(obj(m, "comment"), "body") },
			wantPointer: "/comment/body"},
		{name: "comment.created without its post's id", typ: "comment.created", edit: func(m map[string]any) { delete(obj(m, "post"), "id") },
			wantPointer: "/post/id"},
		{name: "nps.submitted with score 11", typ: "nps.submitted", edit: func(m map[string]any) { m["score"] = 11 },
			wantPointer: "/score", wantMessage: "data/score: maximum: got 11, want 10"},
		{name: "nps.submitted with score -1", typ: "nps.submitted", edit: func(m map[string]any) { m["score"] = -1 },
			wantPointer: "/score"},
		{name: "nps.submitted with score 8.5", typ: "nps.submitted", edit: func(m map[string]any) { m["score"] = 8.5 },
			wantPointer: "/score"},
		{name: "nps.submitted without a respondent", typ: "nps.submitted", edit: func(m map[string]any) { delete(m, "respondent") },
			wantPointer: "/respondent"},
		{name: "csat.submitted with rating 0", typ: "csat.submitted", edit: func(m map[string]any) { m["rating"] = 0 },
			wantPointer: "/rating"},
		{name: "csat.submitted without a conversation", typ: "csat.submitted", edit: func(m map[string]any) { delete(m, "conversation") },
			wantPointer: "/conversation"},
		{name: "conversation.completed without timings", typ: "conversation.completed", edit: func(m map[string]any) { delete(m, "timings") },
			wantPointer: "/timings"},
		{name: "conversation.completed with a negative resolution time", typ: "conversation.completed", edit: func(m map[string]any) { obj(m, "timings")["resolution_seconds"] = -3 },
			wantPointer: "/timings/resolution_seconds"},
		{name: "conversation.completed with a numeric completed_at", typ: "conversation.completed", edit: func(m map[string]any) {
			obj(m, "timings")["completed_at"] = 5
		}, wantPointer: "/timings/completed_at"},
		{name: "webhook.failing in an unknown state", typ: "webhook.failing", edit: func(m map[string]any) { m["state"] = "paused" },
			wantPointer: "/state"},
		{name: "webhook.failing without failing_since, which is null rather than absent", typ: "webhook.failing", edit: func(m map[string]any) { delete(m, "failing_since") },
			wantPointer: "/failing_since", wantMessage: "data/failing_since is required"},
		{name: "webhook.at_risk with a disable_at that is no time", typ: "webhook.at_risk", edit: func(m map[string]any) { m["disable_at"] = "in a day" },
			wantPointer: "/disable_at"},
		{name: "webhook.disabled for an unknown reason", typ: "webhook.disabled", edit: func(m map[string]any) { m["disabled_reason"] = "paused" },
			wantPointer: "/disabled_reason"},
		{name: "webhook.recovered with a webhook id that is no UUID", typ: "webhook.recovered", edit: func(m map[string]any) { obj(m, "webhook")["id"] = "wh_1" },
			wantPointer: "/webhook/id"},
		{name: "webhook.recovered with a relative dashboard_url", typ: "webhook.recovered", edit: func(m map[string]any) { m["dashboard_url"] = "/dashboard/webhooks/1" },
			wantPointer: "/dashboard_url"},
		{name: "delivery.exhausted without its delivery", typ: "delivery.exhausted", edit: func(m map[string]any) { delete(m, "delivery") },
			wantPointer: "/delivery", wantMessage: "data/delivery is required"},
		{name: "delivery.exhausted after no attempt", typ: "delivery.exhausted", edit: func(m map[string]any) { obj(m, "delivery")["attempts"] = 0 },
			wantPointer: "/delivery/attempts"},
		{name: "an empty object", typ: "comment.created", raw: `{}`, wantPointer: "/comment"},
		{name: "not JSON", typ: "comment.created", raw: `{"comment":`, wantPointer: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.raw)
			if tt.raw == "" {
				data = change(t, s, tt.typ, tt.edit)
			}
			err := s.Validate(tt.typ, data)
			var de *catalog.DataError
			if !errors.As(err, &de) {
				t.Fatalf("Validate(%s) = %v, want a DataError", data, err)
			}
			if de.Pointer != tt.wantPointer {
				t.Errorf("pointer %q, want %q (message %q)", de.Pointer, tt.wantPointer, de.Message)
			}
			if tt.wantMessage != "" && de.Message != tt.wantMessage {
				t.Errorf("message %q, want %q", de.Message, tt.wantMessage)
			}
		})
	}
}

// Additional properties are allowed everywhere, so the app can add fields
// without breaking a receiver, and numbers are judged as written.
func TestSchemasAllowAdditions(t *testing.T) {
	s := load(t)
	for _, c := range s.Contracts() {
		data := change(t, s, c.Type, func(m map[string]any) { m["added_later"] = map[string]any{"x": []any{1, nil}} })
		if err := s.Validate(c.Type, data); err != nil {
			t.Errorf("%s refuses an added property: %v", c.Type, err)
		}
	}
	big := bytes.Replace(s.Example("nps.submitted"), []byte(`"score":9`), []byte(`"score":9,"votes":123456789012345678901234567890`), 1)
	if err := s.Validate("nps.submitted", big); err != nil {
		t.Errorf("a big integer beside the score: %v", err)
	}
}

func TestUnknownTypeIsNotADataError(t *testing.T) {
	err := load(t).Validate("post.deleted", []byte(`{}`))
	var de *catalog.DataError
	if err == nil || errors.As(err, &de) {
		t.Fatalf("Validate of an unknown type = %v, want a plain error", err)
	}
}

// FuzzValidate: whatever the bytes, Validate answers nil or an error, and a
// DataError's pointer is a JSON pointer.
func FuzzValidate(f *testing.F) {
	s := load(f)
	for _, c := range s.Contracts() {
		f.Add(c.Type, []byte(c.Example))
	}
	f.Add("nps.submitted", []byte(`{"score":1e400}`))
	f.Add("post.created", []byte(`{"post":{"id":"\ud800"}}`))
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		if !catalog.Known(typ) && !catalog.IsOperational(typ) {
			typ = "post.created"
		}
		var de *catalog.DataError
		if err := s.Validate(typ, data); errors.As(err, &de) && de.Pointer != "" && de.Pointer[0] != '/' {
			t.Fatalf("pointer %q is not a JSON pointer", de.Pointer)
		}
	})
}
