package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/testfactory"
)

func TestCreateEventIdempotency(t *testing.T) {
	t.Parallel()
	f, a, b := setupTwoWorkspaces(t)
	f.mustCreateHook(t, a.APIKey, "post.created")
	f.mustCreateHook(t, a.APIKey, "post.created")
	f.mustCreateHook(t, b.APIKey, "post.created")

	body := testfactory.EventBody(t, "post.created", map[string]any{"order": 42})
	// replays posts body to workspace A under idem and wants first's
	// answer, replayed.
	replays := func(t *testing.T, idem, body string, first client.Event) {
		t.Helper()
		if diff := cmp.Diff(first, f.mustAcceptEvent(t, a.APIKey, idem, body, true)); diff != "" {
			t.Errorf("replayed answer (-first +replay):\n%s", diff)
		}
	}

	first := f.mustAcceptEvent(t, a.APIKey, "order-42", body, false)
	if first.Deliveries != 2 {
		t.Fatalf("deliveries = %d, want 2", first.Deliveries)
	}
	if k := f.mustEvent(t, first.ID).IdempotencyKey; k == nil || *k != "order-42" {
		t.Errorf("stored idempotency key = %v", k)
	}

	t.Run("repeat answers the first event", func(t *testing.T) {
		before := f.footprint(t)
		for range 3 {
			replays(t, "order-42", body, first)
		}
		f.wantNoFootprint(t, before, "replays")
	})

	t.Run("replay count ignores later redeliveries and webhooks", func(t *testing.T) {
		d := f.deliveryIDsOfEvent(t, first.ID)[0]
		f.call(t, "POST", "/v1/deliveries/"+d+"/redeliver", a.APIKey, "").wantStatus(t, http.StatusAccepted)
		f.mustCreateHook(t, a.APIKey, "post.created")
		replays(t, "order-42", body, first)
	})

	t.Run("the same event with other whitespace replays", func(t *testing.T) {
		var spaced bytes.Buffer
		if err := json.Indent(&spaced, []byte(body), " ", "\t"); err != nil {
			t.Fatal(err)
		}
		replays(t, "order-42", spaced.String(), first)
	})

	t.Run("another event under the same key is refused", func(t *testing.T) {
		// body's data begins with "order", which sorts first.
		reordered := strings.Replace(body, `"order":42,`, "", 1)
		reordered = strings.TrimSuffix(reordered, "}}") + `,"order":42}}`
		tests := []struct{ name, body string }{
			{"other data", testfactory.EventBody(t, "post.created", map[string]any{"order": 43})},
			{"another type", testfactory.EventBody(t, "comment.created", map[string]any{"order": 42})},
			{"the same members in another order", reordered},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f.mustRefuseEvent(t, a.APIKey, "order-42", tt.body, apiError{Status: 422, Code: "idempotency_key_reused", Field: "Idempotency-Key",
					Message: `Idempotency-Key "order-42" was already used for a different event (id ` + first.ID + `); use a new key for a new event`})
			})
		}
		// The key's own event is still answered after the refusals.
		replays(t, "order-42", body, first)
	})

	t.Run("another key is another event", func(t *testing.T) {
		if other := f.mustAcceptEvent(t, a.APIKey, "order-43", body, false); other.ID == first.ID {
			t.Errorf("order-43 answered as a replay of order-42: %+v", other)
		}
	})

	t.Run("keys are per workspace", func(t *testing.T) {
		inB := f.mustAcceptEvent(t, b.APIKey, "order-42", body, false)
		if inB.ID == first.ID {
			t.Errorf("workspace B's order-42 answered as workspace A's event: %+v", inB)
		}
		if inB.Deliveries != 1 {
			t.Errorf("deliveries = %d, want 1", inB.Deliveries)
		}
		if ws := f.mustEvent(t, inB.ID).WorkspaceID; ws != b.ID {
			t.Errorf("event stored in workspace %s, want %s", ws, b.ID)
		}
	})

	t.Run("a refused request does not use up its key", func(t *testing.T) {
		f.postEvent(t, a.APIKey, "order-44", `{"type":"post.created"}`).
			wantError(t, apiError{Status: 422, Code: "validation_failed", Field: "data"})
		f.mustAcceptEvent(t, a.APIKey, "order-44", body, false)
	})

	t.Run("255 printable characters", func(t *testing.T) {
		var k strings.Builder
		for i := range 255 {
			k.WriteByte(byte(0x20 + i%0x5f))
		}
		got := f.mustAcceptEvent(t, a.APIKey, k.String(), body, false)
		if stored := f.mustEvent(t, got.ID).IdempotencyKey; stored == nil || *stored != k.String() {
			t.Errorf("stored idempotency key = %v, want %q", stored, k.String())
		}
		replays(t, k.String(), body, got)
	})

	t.Run("no key, no deduplication", func(t *testing.T) {
		x := f.mustPostEvent(t, a.APIKey, body)
		y := f.mustPostEvent(t, a.APIKey, body)
		if x.ID == y.ID {
			t.Errorf("two events without a key share id %s", x.ID)
		}
	})
}
