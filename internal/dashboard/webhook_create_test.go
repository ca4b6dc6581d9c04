package dashboard_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/catalog"
	"github.com/trackelio/webhooks/internal/dashboard"
	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/manage"
)

// TestCreateWebhookFormMatchesTheDocs: the spec's "Creating a webhook" steps
// name URL, Events and Active/Inactive, and Save; a reader finds each.
func TestCreateWebhookFormMatchesTheDocs(t *testing.T) {
	t.Parallel()
	_, _, v := setupSignedIn(t)
	p := v.getOK(t, "/dashboard/webhooks/new")
	p.wantHTML(t,
		`<label for="url">URL</label>`,
		`<legend>Events</legend>`,
		`name="all_events" value="on" data-select-all> Select all</label>`,
		// Active is a switch named Active, on by default.
		`role="switch" aria-label="Active" aria-describedby="active-hint" checked>`,
		`<label for="description">Description <span class="muted">(optional)</span></label>`,
		`<button type="submit" class="button primary">Save</button>`,
	)
	// Each event with its description and, folded, an example of its data.
	for _, c := range catalog.MustLoadSchemas().Contracts() {
		if c.Operational {
			if strings.Contains(p.Body, `name="events" value="`+c.Type+`"`) {
				t.Errorf("the form offers the operational type %s", c.Type)
			}
			continue
		}
		p.wantHTML(t, `<input type="checkbox" name="events" value="`+c.Type+`">`)
		var example bytes.Buffer
		if err := json.Indent(&example, c.Example, "", "  "); err != nil {
			t.Fatal(err)
		}
		p.wantText(t, c.Description, example.String())
	}
	if n := strings.Count(p.Body, `<summary>Example <code>data</code></summary>`); n != len(catalog.All()) {
		t.Errorf("%d examples on the page, want one per event type (%d)", n, len(catalog.All()))
	}
}

func TestCreateWebhook(t *testing.T) {
	t.Parallel()
	f, ws, v := setupSignedIn(t)
	created := v.post(t, "/dashboard/webhooks", v.form(t,
		"url", " https://receiver.example/hook ", "events", "post.created", "events", "nps.submitted",
		"active", "on", "description", "CRM sync")).wantRedirectTo(t, "/dashboard/webhooks/")
	hooks, err := f.store.Webhooks(t.Context(), ws)
	if err != nil || len(hooks) != 1 {
		t.Fatalf("webhooks = %v, %v; want the new one", hooks, err)
	}
	h := hooks[0]
	got := []any{h.URL, []string(h.Events), h.Active, h.Description}
	want := []any{"https://receiver.example/hook", []string{"post.created", "nps.submitted"}, true, "CRM sync"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored webhook (-want +got):\n%s", diff)
	}
	// The page the creation leads to shows the secret once, with a copy
	// button, and it is the stored one.
	if !strings.HasPrefix(created, "/dashboard/webhooks/"+h.ID+"/created?shown=trkfl_") {
		t.Errorf("the creation leads to %s", created)
	}
	// Another session cannot use the link.
	other := f.signedIn(t, ws).getOK(t, created)
	if strings.Contains(other.Body, h.Secret) {
		t.Errorf("another session's visit to %s shows the secret", created)
	}
	p := v.getOK(t, created)
	p.wantText(t, "Webhook created", "Store it securely — you will need it to validate incoming requests.")
	if got := p.inputValue(t, "secret"); got != h.Secret {
		t.Errorf("secret shown = %q, stored %q", got, h.Secret)
	}
	p.wantHTML(t, `readonly autocomplete="off"`, `data-copy="secret" hidden>Copy</button>`, `href="/dashboard/webhooks/`+h.ID+`"`)
	if !strings.HasPrefix(h.Secret, "whsec_") {
		t.Errorf("secret %q is not generated", h.Secret)
	}
	// Reloading shows the page without the secret and creates nothing.
	again := v.getOK(t, created)
	again.wantText(t, "Webhook created", "The secret was shown once, when the webhook was created.")
	if strings.Contains(again.Body, h.Secret) {
		t.Errorf("a reload shows the secret again")
	}
	if hooks, err := f.store.Webhooks(t.Context(), ws); err != nil || len(hooks) != 1 {
		t.Errorf("after a reload: %d webhooks, %v; want 1", len(hooks), err)
	}
	// The detail page does not show it until asked.
	if strings.Contains(v.get(t, "/dashboard/webhooks/"+h.ID).Body, h.Secret) {
		t.Errorf("the detail page shows the secret without a reveal")
	}
}

func TestCreateWebhookSelectAllAndInactive(t *testing.T) {
	t.Parallel()
	f, ws, v := setupSignedIn(t)
	// Without script, "Select all" alone stands for every event; an
	// unticked Active switch sends nothing and means Inactive.
	v.post(t, "/dashboard/webhooks", v.form(t, "url", "https://receiver.example/all", "all_events", "on")).wantRedirectTo(t, "/dashboard/webhooks/")
	hooks, err := f.store.Webhooks(t.Context(), ws)
	if err != nil || len(hooks) != 1 {
		t.Fatalf("webhooks = %v, %v", hooks, err)
	}
	var all []string
	for _, e := range catalog.All() {
		all = append(all, e.Type)
	}
	if diff := cmp.Diff(all, []string(hooks[0].Events)); diff != "" {
		t.Errorf("events with Select all (-want +got):\n%s", diff)
	}
	if hooks[0].Active {
		t.Errorf("a webhook saved with Active off is active")
	}
}

var fieldError = regexp.MustCompile(`<p class="field-error" id="([a-z_]+)-error">([^<]*)</p>`)

// fieldErrors maps each field the page says is wrong to its message.
func (p page) fieldErrors() map[string]string {
	got := map[string]string{}
	for _, m := range fieldError.FindAllStringSubmatch(p.Body, -1) {
		got[m[1]] = m[2]
	}
	return got
}

func TestCreateWebhookRefusesBadInput(t *testing.T) {
	t.Parallel()
	f, _, v := setupSignedIn(t) // the default guard: loopback is refused
	long := strings.Repeat("x", manage.MaxDescriptionLen+1)
	tests := []struct {
		name   string
		fields []string
		errors map[string]string
		kept   []string // what the form shows again
	}{
		{"nothing", nil, map[string]string{
			"url": "url is required", "events": "events must list at least one event type",
		}, nil},
		{"every field wrong", []string{"url", "http://127.0.0.1:9999/hook", "events", "post.deleted", "description", long}, map[string]string{
			"url":         "destination 127.0.0.1 is refused: loopback",
			"events":      `unknown event type &#34;post.deleted&#34;; see GET /v1/event-types`,
			"description": "description is longer than 1000 characters",
		}, []string{`value="http://127.0.0.1:9999/hook"`, `value="` + long + `"`}},
		{"a bad scheme keeps the ticked events and the switch", []string{"url", "ftp://files.example/", "events", "comment.created", "description", "mine"},
			map[string]string{"url": "url must use http or https"},
			[]string{`value="ftp://files.example/"`, `value="comment.created" checked>`, `value="mine"`, `aria-describedby="active-hint">`}},
	}
	before := f.rowCounts(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := v.post(t, "/dashboard/webhooks", v.form(t, tt.fields...))
			p.wantStatus(t, http.StatusUnprocessableEntity)
			if diff := cmp.Diff(tt.errors, p.fieldErrors()); diff != "" {
				t.Errorf("field errors (-want +got):\n%s", diff)
			}
			for field := range tt.errors {
				if !regexp.MustCompile(`aria-describedby="[^"]*\b` + field + `-error"`).MatchString(p.Body) {
					t.Errorf("no input of %s is described by its error", field)
				}
			}
			p.wantHTML(t, tt.kept...)
			p.wantText(t, "The webhook was not saved: correct the fields marked below.")
		})
	}
	dbtest.WantRowCounts(t, f.db, before, "refused forms")
}

func TestCreateWebhookAtTheLimit(t *testing.T) {
	t.Parallel()
	f, ws, v := setupSignedIn(t, func(c *dashboard.Config) {
		c.Manage = manage.New(manage.Config{Store: c.Store.(manage.Store), MaxWebhooks: 1})
	})
	f.mustWebhook(t, ws, "https://one.example/", "post.created")
	p := v.post(t, "/dashboard/webhooks", v.form(t, "url", "https://two.example/", "events", "post.created", "active", "on"))
	p.wantStatus(t, http.StatusUnprocessableEntity)
	p.wantText(t, "This workspace has as many webhooks as it may have.", "https://two.example/")
}
