package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/api"
	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/internal/testfactory"
)

func TestCreateWorkspace(t *testing.T) {
	t.Parallel()
	f := setup(t)
	before := f.rowCounts(t)

	res := f.do(t, request{Method: "POST", Path: "/v1/admin/workspaces", Auth: bearer(testAdminToken), Body: `{"name":"  Acme Inc  "}`})
	res.wantStatus(t, http.StatusCreated)
	var ws workspace
	res.decodeStrict(t, &ws)

	if _, err := uuid.Parse(ws.ID); err != nil {
		t.Errorf("id %q is not a UUID: %v", ws.ID, err)
	}
	if ws.Name != "Acme Inc" {
		t.Errorf("name = %q, want the trimmed %q", ws.Name, "Acme Inc")
	}
	rest, ok := strings.CutPrefix(ws.APIKey, "trk_")
	if !ok || len(rest) < 43 {
		t.Errorf("api_key = %q, want trk_ followed by at least 43 characters", ws.APIKey)
	}

	after := f.rowCounts(t)
	before["workspaces"]++
	before["api_keys"]++
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("row counts (-want +got):\n%s", diff)
	}

	// The key is stored only as a digest.
	var hash []byte
	if err := f.db.Get(&hash, `SELECT key_hash FROM api_keys WHERE workspace_id = $1`, ws.ID); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(hash, []byte(ws.APIKey)) || bytes.Contains(hash, []byte(rest)) {
		t.Errorf("api_keys.key_hash holds the plaintext key")
	}

	// The key works at once, and sees an empty workspace.
	list := f.call(t, "GET", "/v1/webhooks", ws.APIKey, "")
	list.wantStatus(t, http.StatusOK)
	if diff := cmp.Diff(`{"data":[]}`, strings.TrimSpace(string(list.Body))); diff != "" {
		t.Errorf("webhook list of a new workspace (-want +got):\n%s", diff)
	}

	// A second workspace gets a different key.
	other := f.mustCreateWorkspace(t, "Other")
	if other.APIKey == ws.APIKey || other.ID == ws.ID {
		t.Errorf("two workspaces share an id or key: %+v %+v", ws, other)
	}
}

func TestCreateWorkspaceAdminAuth(t *testing.T) {
	t.Parallel()
	f := setup(t)
	disabled := setup(t, func(c *api.Config, _ *manage.Config) { c.AdminToken = "" })
	const body = `{"name":"Acme"}`

	tests := []struct {
		name string
		f    *fixture
		auth string
		want apiError
	}{
		{"missing token", f, "", apiError{Status: 401, Code: "unauthorized"}},
		{"wrong token", f, "Bearer not-the-token", apiError{Status: 401, Code: "unauthorized"}},
		{"token prefix", f, "Bearer " + testAdminToken[:len(testAdminToken)-1], apiError{Status: 401, Code: "unauthorized"}},
		{"token with suffix", f, "Bearer " + testAdminToken + "x", apiError{Status: 401, Code: "unauthorized"}},
		{"basic scheme", f, "Basic " + testAdminToken, apiError{Status: 401, Code: "unauthorized"}},
		{"bare token", f, testAdminToken, apiError{Status: 401, Code: "unauthorized"}},
		{"empty bearer", f, "Bearer ", apiError{Status: 401, Code: "unauthorized"}},
		{"basic auth, wrong password", f, basicAuth("admin", "not-the-token"), apiError{Status: 401, Code: "unauthorized"}},
		{"basic auth, token as user name", f, basicAuth(testAdminToken, ""), apiError{Status: 401, Code: "unauthorized"}},
		{"disabled, no token", disabled, "", apiError{Status: 404, Code: "not_found"}},
		{"disabled, empty bearer", disabled, "Bearer ", apiError{Status: 404, Code: "not_found"}},
		{"disabled, some token", disabled, "Bearer " + testAdminToken, apiError{Status: 404, Code: "not_found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.f.footprint(t)
			res := tt.f.do(t, request{Method: "POST", Path: "/v1/admin/workspaces", Auth: tt.auth, Body: body})
			res.wantError(t, tt.want)
			tt.f.wantNoFootprint(t, before, "a refused request")
		})
	}

	t.Run("401 asks for basic auth", func(t *testing.T) {
		res := f.do(t, request{Method: "POST", Path: "/v1/admin/workspaces", Body: body})
		if got := res.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic ") {
			t.Errorf("WWW-Authenticate = %q, want a Basic challenge", got)
		}
	})

	t.Run("basic auth with the token as password", func(t *testing.T) {
		res := f.do(t, request{Method: "POST", Path: "/v1/admin/workspaces", Auth: basicAuth("admin", testAdminToken), Body: body})
		res.wantStatus(t, http.StatusCreated)
	})

	t.Run("an API key is not an admin token", func(t *testing.T) {
		ws := f.mustCreateWorkspace(t, "Acme")
		res := f.do(t, request{Method: "POST", Path: "/v1/admin/workspaces", Auth: bearer(ws.APIKey), Body: body})
		res.wantError(t, apiError{Status: 401, Code: "unauthorized"})
	})
}

func TestCreateWorkspaceValidation(t *testing.T) {
	t.Parallel()
	f := setup(t)

	tests := []struct {
		name string
		body string
		want apiError
	}{
		{"missing name", `{}`, apiError{Status: 422, Code: "validation_failed", Field: "name"}},
		{"empty name", `{"name":""}`, apiError{Status: 422, Code: "validation_failed", Field: "name"}},
		{"blank name", `{"name":"  \t "}`, apiError{Status: 422, Code: "validation_failed", Field: "name"}},
		{"name too long", `{"name":"` + strings.Repeat("é", 201) + `"}`, apiError{Status: 422, Code: "validation_failed", Field: "name"}},
		{"name not a string", `{"name":42}`, apiError{Status: 422, Code: "validation_failed", Field: "name"}},
		{"unknown field", `{"name":"Acme","plan":"pro"}`, apiError{Status: 422, Code: "validation_failed", Field: "plan"}},
		{"malformed JSON", `{"name":`, apiError{Status: 400, Code: "invalid_json"}},
		{"empty body", ``, apiError{Status: 400, Code: "invalid_json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.footprint(t)
			res := f.do(t, request{Method: "POST", Path: "/v1/admin/workspaces", Auth: bearer(testAdminToken), Body: tt.body})
			res.wantError(t, tt.want)
			f.wantNoFootprint(t, before, "a refused request")
		})
	}

	t.Run("200 characters is allowed", func(t *testing.T) {
		name := strings.Repeat("é", 200)
		ws := f.mustCreateWorkspace(t, name)
		if ws.Name != name {
			t.Errorf("name = %q, want %q", ws.Name, name)
		}
	})
}

func TestListEventTypes(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws := f.mustCreateWorkspace(t, "Acme")

	res := f.call(t, "GET", "/v1/event-types", ws.APIKey, "")
	res.wantStatus(t, http.StatusOK)
	var got struct {
		Data []client.EventType `json:"data"`
	}
	res.decodeStrict(t, &got)
	operational := 0
	for _, e := range got.Data {
		if e.Operational {
			operational++
		}
		// Each type's schema and example are the catalog's, which its own
		// tests check against each other.
		var schema struct {
			Schema string `json:"$schema"`
			Title  string `json:"title"`
		}
		if err := json.Unmarshal(e.Schema, &schema); err != nil || schema.Title != e.Type || schema.Schema != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: schema %.80s…, want a draft 2020-12 schema titled with the type", e.Type, e.Schema)
		}
		if ok := json.Valid(e.Example) && len(e.Example) > 2 && e.Example[0] == '{'; !ok {
			t.Errorf("%s: example %s, want a data object", e.Type, e.Example)
		}
	}

	if len(got.Data) != 12 || operational != 5 {
		t.Errorf("%d event types, %d of them operational; want 12, 5 of them operational", len(got.Data), operational)
	}
	// The loop above checked the schemas and examples. The customer types
	// come first, then the five operational ones, which alone carry the
	// flag.
	want := append(testfactory.DocumentedEventTypes(), testfactory.DocumentedOperationalEventTypes()...)
	if diff := cmp.Diff(want, got.Data, cmpopts.IgnoreFields(client.EventType{}, "Schema", "Example")); diff != "" {
		t.Errorf("event types (-spec +got):\n%s", diff)
	}
}

func basicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}
