package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/testfactory"
)

// FuzzCreateEvent posts arbitrary bodies to POST /v1/events. Whatever the
// body, the answer is a JSON object with one of the expected statuses, and an
// accepted event's stored body is valid JSON (UTF-8 included) carrying the
// input's data compacted and otherwise untouched. The seed corpus lives in
// testdata/fuzz/FuzzCreateEvent; one database serves every input.
func FuzzCreateEvent(f *testing.F) {
	fx := setup(f)
	ws := fx.mustCreateWorkspace(f, "Fuzz")
	fx.mustCreateHook(f, ws.APIKey, "post.created", "post.status_changed", "post.assigned", "comment.created",
		"nps.submitted", "csat.submitted", "conversation.completed")
	fx.mustCreateWebhook(f, ws.APIKey, map[string]any{"url": "https://off.example", "events": []string{"post.created"}, "active": false})

	f.Add([]byte(`{"type":"post.created","data":{"id":"p_1","title":"Dark mode","votes":3}}`))
	f.Add([]byte(`{"type":"conversation.completed","data":{"nested":{"deep":[1,2,{"x":null}]}}}`))
	// Hostile shapes: too deep, a key twice (also once escaped), a field twice.
	f.Add([]byte(`{"type":"post.created","data":{"deep":` + nested(5000, "1") + `}}`))
	f.Add([]byte(`{"type":"post.created","data":` + withPost(`{"deep":`+nested(31, `{"a":1,"a":2}`)+`}`) + `}`))
	f.Add([]byte(`{"type":"nps.submitted","data":{"id":"n1","score":11,"score":9,"respondent":{"id":"u"}}}`))
	f.Add([]byte(`{"type":"nps.submitted","data":{"id":"n1","score":9,"\u0073core":9,"respondent":{"id":"u"}}}`))
	f.Add([]byte(`{"type":"nps.submitted","TYPE":"post.created","data":{}}`))
	// Valid events, so mutations also explore what the schemas accept.
	for _, typ := range []string{"post.created", "nps.submitted", "conversation.completed"} {
		f.Add([]byte(testfactory.EventBody(f, typ, map[string]any{"nested": map[string]any{"deep": []any{1, "é", nil}}})))
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		res := fx.do(t, request{Method: "POST", Path: "/v1/events", Auth: bearer(ws.APIKey), Body: string(body)})
		switch res.Status {
		case http.StatusAccepted, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		default:
			t.Fatalf("status %d for body %q: %s", res.Status, body, res.Body)
		}
		fields := res.fields(t) // fails unless the answer is a JSON object
		if res.Status != http.StatusAccepted {
			var e struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(res.Body, &e); err != nil || len(fields) != 1 || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("error answer lacks {\"error\":{\"code\",\"message\"}}: %s", res.Body)
			}
			return
		}

		var got client.Event
		res.decodeStrict(t, &got)
		if got.Deliveries != 1 {
			t.Errorf("deliveries = %d, want 1 (one active webhook subscribed to every type)", got.Deliveries)
		}
		ev := fx.mustEvent(t, got.ID)
		if !utf8.Valid(ev.Body) || !json.Valid(ev.Body) {
			t.Fatalf("accepted %q and stored a body that is not valid JSON: %q", body, ev.Body)
		}
		// Decoded the way the API decodes: keys match case-insensitively
		// (the API refuses a field given twice).
		var in struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			t.Fatalf("accepted a body encoding/json refuses: %v: %q", err, body)
		}
		var want bytes.Buffer
		if err := json.Compact(&want, in.Data); err != nil {
			t.Fatalf("accepted data that does not compact: %v", err)
		}
		var stored struct {
			ID          string          `json:"id"`
			Type        string          `json:"type"`
			CreatedAt   string          `json:"created_at"`
			WorkspaceID string          `json:"workspace_id"`
			Data        json.RawMessage `json:"data"`
		}
		dec := json.NewDecoder(bytes.NewReader(ev.Body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&stored); err != nil {
			t.Fatalf("stored body %q: %v", ev.Body, err)
		}
		if diff := cmp.Diff(want.String(), string(stored.Data)); diff != "" {
			t.Errorf("stored data (-compacted input +stored):\n%s", diff)
		}
		if stored.ID != got.ID || stored.Type != in.Type || stored.Type != ev.Type || stored.WorkspaceID != ws.ID {
			t.Errorf("stored body names id %s type %s workspace %s; want %s %s %s", stored.ID, stored.Type, stored.WorkspaceID, got.ID, in.Type, ws.ID)
		}
		if diff := cmp.Diff(wantBody(ev, want.String()), string(ev.Body)); diff != "" {
			t.Errorf("stored body (-want +got):\n%s", diff)
		}
	})
}
