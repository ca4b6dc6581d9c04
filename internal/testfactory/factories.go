// Package testfactory makes the rows and bodies tests need: workspaces,
// webhooks, events and deliveries stored through the real repo.Store, a
// delivery loaded and an attempt recorded as the worker does, a long
// delivery history, valid event data from the catalog's examples, the
// documented event types, random names and secrets, and the secrets a
// webhook has as stored.
package testfactory

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trackelio/webhooks/internal/credential"
	"github.com/trackelio/webhooks/repo"
)

// The factories below store rows through the real repo.Store, filling in
// what a test leaves zero, so tests of every package write the same rows
// the same way and say only what matters to them.

// Workspace creates a workspace; tests that sign in with its API key use
// WorkspaceWithKey.
func Workspace(tb testing.TB, store *repo.Store, name string) repo.Workspace {
	tb.Helper()
	ws, _ := WorkspaceWithKey(tb, store, name)
	return ws
}

// WorkspaceWithKey creates a workspace and returns it with its API key.
func WorkspaceWithKey(tb testing.TB, store *repo.Store, name string) (repo.Workspace, string) {
	tb.Helper()
	key, digest := credential.New(credential.APIKeyPrefix)
	ws, err := store.CreateWorkspace(context.Background(), name, digest)
	if err != nil {
		tb.Fatalf("testfactory: CreateWorkspace: %v", err)
	}
	return ws, key
}

// factoryMaxWebhooks is a per-workspace limit no test reaches unless it
// sets its own.
const factoryMaxWebhooks = 1000

// Webhook creates a webhook as in says; an empty URL is a dummy receiver
// and an empty Secret a fresh random one. Active is as given: false unless
// the test says true.
func Webhook(tb testing.TB, store *repo.Store, workspaceID string, in repo.NewWebhook) repo.Webhook {
	tb.Helper()
	if in.URL == "" {
		in.URL = "https://receiver.example/hook"
	}
	if in.Secret == "" {
		in.Secret = "whsec_" + uuid.NewString()
	}
	h, err := store.CreateWebhook(context.Background(), workspaceID, in, factoryMaxWebhooks)
	if err != nil {
		tb.Fatalf("testfactory: CreateWebhook: %v", err)
	}
	return h
}

// Event stores ev and its deliveries. A zero ID becomes a random one, a zero
// CreatedAt now (in PostgreSQL's microseconds), and a nil Body the event's
// envelope with data, {} when data is empty.
func Event(tb testing.TB, store *repo.Store, ev repo.NewEvent, data string) repo.AcceptedEvent {
	tb.Helper()
	if ev.ID == "" {
		ev.ID = uuid.NewString()
	}
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	if data == "" {
		data = "{}"
	}
	if ev.Body == nil {
		ev.Body = fmt.Appendf(nil, `{"id":%q,"type":%q,"data":%s}`, ev.ID, ev.Type, data)
	}
	acc, err := store.CreateEvent(context.Background(), ev)
	if err != nil {
		tb.Fatalf("testfactory: CreateEvent: %v", err)
	}
	return acc
}

// Delivery is Event for an event that must fan out to exactly one
// webhook; it returns that delivery's id.
func Delivery(tb testing.TB, store *repo.Store, ev repo.NewEvent, data string) string {
	tb.Helper()
	acc := Event(tb, store, ev, data)
	if len(acc.DeliveryIDs) != 1 {
		tb.Fatalf("testfactory: the event fanned out to %d deliveries, want 1", len(acc.DeliveryIDs))
	}
	return acc.DeliveryIDs[0]
}

// RandomHex is n random bytes in hex: names, tokens and secrets that no
// two tests share.
func RandomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
