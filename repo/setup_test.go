package repo_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/delivery"
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

// hookFixture is a fixture with a workspace "acme" and an active webhook
// of it subscribed to post.created: what most tests start from.
type hookFixture struct {
	*fixture
	ws   repo.Workspace
	hook repo.Webhook
}

func setupHook(tb testing.TB) *hookFixture {
	tb.Helper()
	return setup(tb).withHook(tb, "acme")
}

// withHook makes a workspace of the given name with an active webhook
// subscribed to post.created.
func (f *fixture) withHook(tb testing.TB, workspace string) *hookFixture {
	tb.Helper()
	ws := f.mustWorkspace(tb, workspace)
	return &hookFixture{fixture: f, ws: ws, hook: f.mustWebhook(tb, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})}
}

// setupWorkspaces is a workspace "acme" and another, "other", whose rows
// the first must never see.
func setupWorkspaces(tb testing.TB) (f *fixture, ws, other repo.Workspace) {
	tb.Helper()
	f = setup(tb)
	return f, f.mustWorkspace(tb, "acme"), f.mustWorkspace(tb, "other")
}

// setupTwoHooks is a workspace "acme" with two active webhooks, one
// subscribed to event type "a" and the other to "b".
func setupTwoHooks(tb testing.TB) (f *fixture, ws repo.Workspace, a, b repo.Webhook) {
	tb.Helper()
	f = setup(tb)
	ws = f.mustWorkspace(tb, "acme")
	a = f.mustWebhook(tb, ws.ID, repo.NewWebhook{Events: []string{"a"}, Active: true})
	b = f.mustWebhook(tb, ws.ID, repo.NewWebhook{Events: []string{"b"}, Active: true})
	return f, ws, a, b
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

// mustDeliveries makes n post.created events, each of which must reach
// the fixture's webhook alone, and returns their deliveries' ids.
func (f *hookFixture) mustDeliveries(tb testing.TB, n int) []string {
	tb.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = f.mustDelivery(tb, newEvent(f.ws.ID, "post.created"))
	}
	return ids
}

func (f *fixture) mustGetDelivery(tb testing.TB, workspaceID, id string) repo.Delivery {
	tb.Helper()
	d, err := f.store.Delivery(context.Background(), workspaceID, id)
	if err != nil {
		tb.Fatalf("Delivery %s: %v", id, err)
	}
	return d
}

// failure is a failed attempt with another attempt to come.
func failure(deliveryID string, attempt int, at time.Time) repo.AttemptResult {
	return repo.AttemptResult{
		DeliveryID: deliveryID, Attempt: attempt, StatusCode: 500, Error: "receiver answered 500",
		At: at, NewStatus: delivery.StatusPending, NextAttemptAt: at.Add(time.Minute),
	}
}

// success is a successful attempt.
func success(deliveryID string, attempt int, at time.Time) repo.AttemptResult {
	return repo.AttemptResult{
		DeliveryID: deliveryID, Attempt: attempt, StatusCode: 200, At: at, Succeeded: true, NewStatus: delivery.StatusSucceeded,
	}
}

// record stores one attempt; the test stops unless it was stored.
func (f *fixture) record(tb testing.TB, r repo.AttemptResult) repo.Recorded {
	tb.Helper()
	return testfactory.Record(tb, f.store, r)
}

// recordStale tries to store an attempt the delivery no longer expects;
// the test fails if it was stored.
func (f *fixture) recordStale(tb testing.TB, r repo.AttemptResult) {
	tb.Helper()
	recs, err := f.store.RecordAttempts(context.Background(), []repo.AttemptResult{r})
	if err != nil {
		tb.Fatalf("RecordAttempts(attempt %d): %v", r.Attempt, err)
	}
	if recs[0].Stored {
		tb.Fatalf("RecordAttempts(attempt %d, %s) stored a stale attempt", r.Attempt, r.NewStatus)
	}
}

func (f *fixture) mustCount(tb testing.TB, query string, args ...any) int {
	tb.Helper()
	var n int
	if err := f.db.Get(&n, query, args...); err != nil {
		tb.Fatalf("count %q: %v", query, err)
	}
	return n
}

// mustCounts counts the events and deliveries stored, so a test can show
// that a call stored none (wantNothingStored).
func (f *fixture) mustCounts(tb testing.TB) map[string]int {
	tb.Helper()
	return dbtest.RowCounts(tb, f.db, "events", "deliveries")
}

// wantNothingStored fails the test unless the events and deliveries stored
// are as many as before.
func (f *fixture) wantNothingStored(tb testing.TB, before map[string]int) {
	tb.Helper()
	if diff := cmp.Diff(before, f.mustCounts(tb)); diff != "" {
		tb.Errorf("rows stored (-before +after):\n%s", diff)
	}
}

// waitLockWaiters waits until n sessions of the database wait for a lock.
// It must not run inside the transaction holding the lock: a transaction
// sees one snapshot of pg_stat_activity.
func waitLockWaiters(tb testing.TB, db *sqlx.DB, what string, n int) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := db.Get(&waiting, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
			tb.Fatal(err)
		}
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d sessions waiting for the lock on %s", waiting, n, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
