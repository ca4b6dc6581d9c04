package repo_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/repo"
)

// fixture is a Store on a fresh migrated database, plus a separate
// connection for looking at raw rows the Store does not expose.
type fixture struct {
	store *repo.Store
	db    *sqlx.DB
}

func setup(tb testing.TB) *fixture {
	tb.Helper()
	store, db := dbtest.NewStoreAndDB(tb)
	return &fixture{store: store, db: db}
}

// pgTime is a time PostgreSQL stores without rounding.
func pgTime(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

func (f *fixture) mustWorkspace(tb testing.TB, name string) repo.Workspace {
	tb.Helper()
	return testfactory.Workspace(tb, f.store, name)
}

// mustWebhook creates a webhook as in says, on a dummy URL unless given.
func (f *fixture) mustWebhook(tb testing.TB, workspaceID string, in repo.NewWebhook) repo.Webhook {
	tb.Helper()
	return testfactory.Webhook(tb, f.store, workspaceID, in)
}

// newEvent is an event of the given type created now, without an idempotency key.
func newEvent(workspaceID, typ string) repo.NewEvent {
	id := uuid.NewString()
	return repo.NewEvent{
		ID:          id,
		WorkspaceID: workspaceID,
		Type:        typ,
		Body:        fmt.Appendf(nil, `{"id":%q,"type":%q,"data":{}}`, id, typ),
		CreatedAt:   pgTime(time.Now()),
	}
}

func (f *fixture) mustEvent(tb testing.TB, ev repo.NewEvent) repo.AcceptedEvent {
	tb.Helper()
	return testfactory.Event(tb, f.store, ev, "")
}

// mustDelivery creates an event for a workspace with exactly one matching
// webhook and returns the id of its single delivery.
func (f *fixture) mustDelivery(tb testing.TB, ev repo.NewEvent) string {
	tb.Helper()
	return testfactory.Delivery(tb, f.store, ev, "")
}

func (f *fixture) mustGetDelivery(tb testing.TB, workspaceID, id string) repo.Delivery {
	tb.Helper()
	d, err := f.store.Delivery(context.Background(), workspaceID, id)
	if err != nil {
		tb.Fatalf("Delivery %s: %v", id, err)
	}
	return d
}

// mustWebhookRow reads a webhook including tombstones, which Store.Webhook hides.
func (f *fixture) mustWebhookRow(tb testing.TB, id string) repo.Webhook {
	tb.Helper()
	var w repo.Webhook
	err := f.db.Get(&w, `SELECT id, workspace_id, url, events, active, description, secret,
		failure_count, consecutive_failures, disabled_reason, created_at, updated_at
		FROM webhooks WHERE id = $1`, id)
	if err != nil {
		tb.Fatalf("read webhook %s: %v", id, err)
	}
	return w
}

func (f *fixture) mustCount(tb testing.TB, query string, args ...any) int {
	tb.Helper()
	var n int
	if err := f.db.Get(&n, query, args...); err != nil {
		tb.Fatalf("count %q: %v", query, err)
	}
	return n
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
