package api_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/testfactory"
)

// TestBadRequestsChangeNothing sends requests the API must refuse and checks
// the exact status, code and field, and that no row and no task appeared.
func TestBadRequestsChangeNothing(t *testing.T) {
	t.Parallel()
	f, ws, hook := setupWithHook(t, "post.created")
	deliveryID := f.mustEventDelivery(t, ws.APIKey, "post.created")
	unknown := uuid.NewString()

	const validHook = `{"url":"https://x.example","events":["post.created"]}`
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	bigData := `{"type":"post.created","data":{"blob":"` + strings.Repeat("x", 256<<10) + `"}}`

	invalidJSON := apiError{Status: 400, Code: "invalid_json"}
	invalid := func(field string) apiError { return apiError{Status: 422, Code: "validation_failed", Field: field} }
	notFound := apiError{Status: 404, Code: "not_found"}
	tooLarge := apiError{Status: 413, Code: "payload_too_large"}

	tests := []struct {
		name   string
		method string
		path   string
		body   string
		header map[string]string
		want   apiError
	}{
		// Bodies that are not one JSON object.
		{"webhook: malformed JSON", "POST", "/v1/webhooks", `{"url":"https://x.example",`, nil, invalidJSON},
		{"webhook: not JSON at all", "POST", "/v1/webhooks", `url=https://x.example`, nil, invalidJSON},
		{"webhook: trailing object", "POST", "/v1/webhooks", validHook + `{}`, nil, invalidJSON},
		{"webhook: trailing garbage", "POST", "/v1/webhooks", validHook + ` x`, nil, invalidJSON},
		{"webhook: empty body", "POST", "/v1/webhooks", ``, nil, invalidJSON},
		{"webhook: whitespace body", "POST", "/v1/webhooks", " \n\t ", nil, invalidJSON},
		{"webhook: array body", "POST", "/v1/webhooks", `[` + validHook + `]`, nil, invalidJSON},
		{"webhook: string body", "POST", "/v1/webhooks", `"https://x.example"`, nil, invalidJSON},
		{"webhook: null body", "POST", "/v1/webhooks", `null`, nil, invalidJSON},
		{"webhook: body over 64 KiB", "POST", "/v1/webhooks",
			`{"url":"https://x.example","events":["post.created"],"description":"` + strings.Repeat("d", 64<<10) + `"}`, nil, tooLarge},
		{"event: malformed JSON", "POST", "/v1/events", `{"type":"post.created","data":{`, nil, invalidJSON},
		{"event: trailing data", "POST", "/v1/events", `{"type":"post.created","data":{}}{"type":"post.created","data":{}}`, nil, invalidJSON},
		{"event: empty body", "POST", "/v1/events", ``, nil, invalidJSON},
		{"event: array body", "POST", "/v1/events", `[{"type":"post.created","data":{}}]`, nil, invalidJSON},
		{"event: null body", "POST", "/v1/events", `null`, nil, invalidJSON},
		{"event: body over 256 KiB", "POST", "/v1/events", bigData, nil, tooLarge},
		{"event: data nested over 10000 deep", "POST", "/v1/events",
			`{"type":"post.created","data":` + strings.Repeat(`{"a":`, 10001) + `1` + strings.Repeat(`}`, 10001) + `}`, nil, invalidJSON},
		{"patch: malformed JSON", "PATCH", "/v1/webhooks/" + hook.ID, `{"active":`, nil, invalidJSON},
		{"patch: array body", "PATCH", "/v1/webhooks/" + hook.ID, `[]`, nil, invalidJSON},

		// Webhook fields.
		{"webhook: unknown field", "POST", "/v1/webhooks", `{"url":"https://x.example","events":["post.created"],"secret":"whsec_x"}`, nil, invalid("secret")},
		{"webhook: events as string", "POST", "/v1/webhooks", `{"url":"https://x.example","events":"post.created"}`, nil, invalid("events")},
		{"webhook: active as string", "POST", "/v1/webhooks", `{"url":"https://x.example","events":["post.created"],"active":"true"}`, nil, invalid("active")},
		{"webhook: url as number", "POST", "/v1/webhooks", `{"url":42,"events":["post.created"]}`, nil, invalid("url")},
		{"webhook: description as object", "POST", "/v1/webhooks", `{"url":"https://x.example","events":["post.created"],"description":{}}`, nil, invalid("description")},
		{"webhook: missing url", "POST", "/v1/webhooks", `{"events":["post.created"]}`, nil, invalid("url")},
		{"webhook: blank url", "POST", "/v1/webhooks", `{"url":"   ","events":["post.created"]}`, nil, invalid("url")},
		{"webhook: ftp url", "POST", "/v1/webhooks", `{"url":"ftp://x.example/in","events":["post.created"]}`, nil, invalid("url")},
		{"webhook: javascript url", "POST", "/v1/webhooks", `{"url":"javascript:alert(1)","events":["post.created"]}`, nil, invalid("url")},
		{"webhook: relative url", "POST", "/v1/webhooks", `{"url":"/hooks","events":["post.created"]}`, nil, invalid("url")},
		{"webhook: url without host", "POST", "/v1/webhooks", `{"url":"https://","events":["post.created"]}`, nil, invalid("url")},
		{"webhook: url with empty host and a path", "POST", "/v1/webhooks", `{"url":"https:///hooks","events":["post.created"]}`, nil, invalid("url")},
		{"webhook: url with only a port", "POST", "/v1/webhooks", `{"url":"http://:8080/","events":["post.created"]}`, nil, invalid("url")},
		{"webhook: opaque url", "POST", "/v1/webhooks", `{"url":"https:x.example","events":["post.created"]}`, nil, invalid("url")},
		{"webhook: url with userinfo", "POST", "/v1/webhooks", `{"url":"https://user:pass@x.example/","events":["post.created"]}`, nil, invalid("url")},
		{"webhook: url with user only", "POST", "/v1/webhooks", `{"url":"https://user@x.example/","events":["post.created"]}`, nil, invalid("url")},
		{"webhook: unparseable url", "POST", "/v1/webhooks", `{"url":"https://x.example/%zz","events":["post.created"]}`, nil, invalid("url")},
		{"webhook: url over 2048 bytes", "POST", "/v1/webhooks",
			`{"url":"https://x.example/` + strings.Repeat("a", 2049-len("https://x.example/")) + `","events":["post.created"]}`, nil, invalid("url")},
		{"webhook: unknown event type", "POST", "/v1/webhooks", `{"url":"https://x.example","events":["post.created","post.deleted"]}`, nil, invalid("events")},
		{"webhook: event type in other case", "POST", "/v1/webhooks", `{"url":"https://x.example","events":["Post.Created"]}`, nil, invalid("events")},
		{"webhook: empty events", "POST", "/v1/webhooks", `{"url":"https://x.example","events":[]}`, nil, invalid("events")},
		{"webhook: over 100 events listed", "POST", "/v1/webhooks",
			`{"url":"https://x.example","events":["post.created"` + strings.Repeat(`,"post.created"`, 100) + `]}`, nil, invalid("events")},
		{"webhook: missing events", "POST", "/v1/webhooks", `{"url":"https://x.example"}`, nil, invalid("events")},
		{"webhook: null events", "POST", "/v1/webhooks", `{"url":"https://x.example","events":null}`, nil, invalid("events")},
		{"webhook: description over 1000 characters", "POST", "/v1/webhooks",
			`{"url":"https://x.example","events":["post.created"],"description":"` + strings.Repeat("ü", 1001) + `"}`, nil, invalid("description")},

		// Event fields.
		{"event: missing type", "POST", "/v1/events", `{"data":{}}`, nil, invalid("type")},
		{"event: empty type", "POST", "/v1/events", `{"type":"","data":{}}`, nil, invalid("type")},
		{"event: unknown type", "POST", "/v1/events", `{"type":"post.deleted","data":{}}`, nil, invalid("type")},
		{"event: type as number", "POST", "/v1/events", `{"type":7,"data":{}}`, nil, invalid("type")},
		{"event: unknown field", "POST", "/v1/events", `{"type":"post.created","data":{},"id":"evt_1"}`, nil, invalid("id")},
		{"event: missing data", "POST", "/v1/events", `{"type":"post.created"}`, nil, invalid("data")},
		{"event: data as array", "POST", "/v1/events", `{"type":"post.created","data":[{"a":1}]}`, nil, invalid("data")},
		{"event: data as string", "POST", "/v1/events", `{"type":"post.created","data":"{}"}`, nil, invalid("data")},
		{"event: data as number", "POST", "/v1/events", `{"type":"post.created","data":1}`, nil, invalid("data")},
		{"event: data null", "POST", "/v1/events", `{"type":"post.created","data":null}`, nil, invalid("data")},
		{"event: Idempotency-Key over 255 characters", "POST", "/v1/events", `{"type":"post.created","data":{}}`,
			map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}, invalid("Idempotency-Key")},
		{"event: Idempotency-Key with a control character", "POST", "/v1/events", `{"type":"post.created","data":{}}`,
			map[string]string{"Idempotency-Key": "abc\x01def"}, invalid("Idempotency-Key")},
		{"event: Idempotency-Key with a tab", "POST", "/v1/events", `{"type":"post.created","data":{}}`,
			map[string]string{"Idempotency-Key": "abc\tdef"}, invalid("Idempotency-Key")},
		{"event: Idempotency-Key with DEL", "POST", "/v1/events", `{"type":"post.created","data":{}}`,
			map[string]string{"Idempotency-Key": "abc\x7f"}, invalid("Idempotency-Key")},
		{"event: Idempotency-Key not ASCII", "POST", "/v1/events", `{"type":"post.created","data":{}}`,
			map[string]string{"Idempotency-Key": "clé"}, invalid("Idempotency-Key")},

		// Ids that are not UUIDs, and UUIDs that name nothing.
		{"get webhook: not a UUID", "GET", "/v1/webhooks/abc", "", nil, notFound},
		{"get webhook: SQL in id", "GET", "/v1/webhooks/" + url.PathEscape("1' OR '1'='1"), "", nil, notFound},
		{"get webhook: UUID without dashes", "GET", "/v1/webhooks/" + strings.ReplaceAll(hook.ID, "-", ""), "", nil, notFound},
		{"get webhook: URN UUID", "GET", "/v1/webhooks/urn:uuid:" + hook.ID, "", nil, notFound},
		{"get webhook: braced UUID", "GET", "/v1/webhooks/" + url.PathEscape("{"+hook.ID+"}"), "", nil, notFound},
		{"patch webhook: not a UUID", "PATCH", "/v1/webhooks/abc", `{"active":false}`, nil, notFound},
		{"delete webhook: not a UUID", "DELETE", "/v1/webhooks/abc", "", nil, notFound},
		{"secret: not a UUID", "GET", "/v1/webhooks/abc/secret", "", nil, notFound},
		{"deliveries: not a UUID", "GET", "/v1/webhooks/abc/deliveries", "", nil, notFound},
		{"delivery: not a UUID", "GET", "/v1/deliveries/abc", "", nil, notFound},
		{"redeliver: not a UUID", "POST", "/v1/deliveries/abc/redeliver", "", nil, notFound},
		{"get webhook: unknown UUID", "GET", "/v1/webhooks/" + unknown, "", nil, notFound},
		{"patch webhook: unknown UUID", "PATCH", "/v1/webhooks/" + unknown, `{"active":false}`, nil, notFound},
		{"delete webhook: unknown UUID", "DELETE", "/v1/webhooks/" + unknown, "", nil, notFound},
		{"secret: unknown UUID", "GET", "/v1/webhooks/" + unknown + "/secret", "", nil, notFound},
		{"deliveries: unknown UUID", "GET", "/v1/webhooks/" + unknown + "/deliveries", "", nil, notFound},
		{"delivery: unknown UUID", "GET", "/v1/deliveries/" + unknown, "", nil, notFound},
		{"redeliver: unknown UUID", "POST", "/v1/deliveries/" + unknown + "/redeliver", "", nil, notFound},
		{"webhook id used as a delivery id", "GET", "/v1/deliveries/" + hook.ID, "", nil, notFound},
		{"delivery id used as a webhook id", "GET", "/v1/webhooks/" + deliveryID, "", nil, notFound},
		{"redeliver with a webhook id", "POST", "/v1/deliveries/" + hook.ID + "/redeliver", "", nil, notFound},

		// Paging parameters.
		{"limit=0", "GET", "/v1/webhooks/" + hook.ID + "/deliveries?limit=0", "", nil, invalid("limit")},
		{"limit=101", "GET", "/v1/webhooks/" + hook.ID + "/deliveries?limit=101", "", nil, invalid("limit")},
		{"limit=-1", "GET", "/v1/webhooks/" + hook.ID + "/deliveries?limit=-1", "", nil, invalid("limit")},
		{"limit=abc", "GET", "/v1/webhooks/" + hook.ID + "/deliveries?limit=abc", "", nil, invalid("limit")},
		{"limit=1.5", "GET", "/v1/webhooks/" + hook.ID + "/deliveries?limit=1.5", "", nil, invalid("limit")},
		{"limit overflowing int", "GET", "/v1/webhooks/" + hook.ID + "/deliveries?limit=99999999999999999999", "", nil, invalid("limit")},
		{"cursor not base64", "GET", "/v1/webhooks/" + hook.ID + "/deliveries?cursor=!!!", "", nil, invalid("cursor")},
		{"cursor without separator", "GET", "/v1/webhooks/" + hook.ID + "/deliveries?cursor=" + b64("nothing"), "", nil, invalid("cursor")},
		{"cursor with a bad time", "GET", "/v1/webhooks/" + hook.ID + "/deliveries?cursor=" + b64("yesterday|"+deliveryID), "", nil, invalid("cursor")},
		{"cursor with a bad id", "GET", "/v1/webhooks/" + hook.ID + "/deliveries?cursor=" + b64(time.Now().UTC().Format(time.RFC3339Nano)+"|42"), "", nil, invalid("cursor")},
		{"cursor in standard base64", "GET", "/v1/webhooks/" + hook.ID + "/deliveries?cursor=" +
			url.QueryEscape(base64.StdEncoding.EncodeToString([]byte("2024-01-02T03:04:05.123456Z|"+deliveryID))), "", nil, invalid("cursor")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.footprint(t)
			res := f.do(t, request{Method: tt.method, Path: tt.path, Auth: bearer(ws.APIKey), Body: tt.body, Header: tt.header})
			res.wantError(t, tt.want)
			f.wantNoFootprint(t, before, "a refused request")
		})
	}

	t.Run("the webhook is unchanged", func(t *testing.T) {
		want := hook
		want.Secret = ""
		if diff := cmp.Diff(want, f.mustGetWebhook(t, ws.APIKey, hook.ID), asRendered); diff != "" {
			t.Errorf("webhook (-created +now):\n%s", diff)
		}
	})
}

// TestDatabaseOutageAnswers503: while PostgreSQL cannot be reached the api
// answers 503 with Retry-After and stores nothing (never 202), and once it
// is back the same request succeeds without a restart; retried with its
// Idempotency-Key, the event is stored once.
func TestDatabaseOutageAnswers503(t *testing.T) {
	t.Parallel()
	store, db, pg := dbtest.NewStoreBehindProxy(t)
	f := setupOn(t, store, db)
	ws := f.mustCreateWorkspace(t, "Acme")
	f.mustCreateHook(t, ws.APIKey, "post.created")
	post := func() response {
		return f.postEvent(t, ws.APIKey, "outage-1", testfactory.EventBody(t, "post.created", nil))
	}

	pg.Cut()
	for _, res := range []response{post(), post(), f.call(t, http.MethodGet, "/v1/webhooks", ws.APIKey, "")} {
		res.wantError(t, apiError{Status: http.StatusServiceUnavailable, Code: "unavailable"})
		if got := res.Header.Get("Retry-After"); got != "2" {
			t.Errorf("Retry-After = %q, want 2", got)
		}
	}
	var stored int
	if err := db.Get(&stored, `SELECT count(*) FROM events`); err != nil {
		t.Fatal(err)
	}
	if stored != 0 {
		t.Fatalf("%d events stored while the database was unreachable, want 0", stored)
	}

	pg.Restore(t)
	var statuses []int
	deadline := time.Now().Add(10 * time.Second)
	for {
		res := post()
		statuses = append(statuses, res.Status)
		if res.Status == http.StatusAccepted {
			break
		}
		if res.Status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("after the database came back: statuses %v, want 503s then 202", statuses)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if res := post(); res.Status != http.StatusAccepted || res.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("the retried event answered %d, replayed %q; want 202, replayed true", res.Status, res.Header.Get("Idempotent-Replayed"))
	}
	if err := db.Get(&stored, `SELECT count(*) FROM events`); err != nil {
		t.Fatal(err)
	}
	if stored != 1 {
		t.Errorf("%d events stored, want 1", stored)
	}
}
