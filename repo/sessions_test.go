package repo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/trackelio/webhooks/repo"
)

// setupSessions is a workspace "acme" with a webhook (flashes name one),
// and the time the test signs in at.
func setupSessions(tb testing.TB) (*hookFixture, time.Time) {
	tb.Helper()
	return setupHook(tb), pgTime(time.Now())
}

func TestPortalLinksAndSessions(t *testing.T) {
	t.Parallel()
	f, now := setupSessions(t)
	ctx := context.Background()
	link, expired := []byte("link-1"), []byte("link-old")
	for _, l := range []struct {
		hash    []byte
		expires time.Time
	}{{link, now.Add(5 * time.Minute)}, {expired, now.Add(-time.Second)}} {
		if err := f.store.CreatePortalLink(ctx, l.hash, f.ws.ID, l.expires); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.store.CreatePortalLink(ctx, []byte("link-x"), uuid.NewString(), now.Add(time.Minute)); err == nil {
		t.Error("a link for a workspace that does not exist was stored")
	}

	// An expired link is refused, and gone.
	if _, err := f.store.StartSessionFromLink(ctx, expired, []byte("s-0"), now, now.Add(time.Hour)); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("expired link: %v, want ErrNotFound", err)
	}
	// A valid one starts one session, once.
	got, err := f.store.StartSessionFromLink(ctx, link, []byte("s-1"), now, now.Add(time.Hour))
	if err != nil || got != f.ws.ID {
		t.Fatalf("StartSessionFromLink = %q, %v; want %s", got, err, f.ws.ID)
	}
	if _, err := f.store.StartSessionFromLink(ctx, link, []byte("s-2"), now, now.Add(time.Hour)); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("second use: %v, want ErrNotFound", err)
	}
	if n := f.mustCount(t, `SELECT count(*) FROM dashboard_links`); n != 0 {
		t.Errorf("%d links left, want none", n)
	}

	sess, err := f.store.SessionAt(ctx, []byte("s-1"), now.Add(59*time.Minute))
	if diff := cmp.Diff(repo.Session{WorkspaceID: f.ws.ID, WorkspaceName: "acme", ExpiresAt: now.Add(time.Hour)}, sess); err != nil || diff != "" {
		t.Errorf("SessionAt before expiry = %v (-want +got):\n%s", err, diff)
	}
	if _, err := f.store.SessionAt(ctx, []byte("s-1"), now.Add(time.Hour)); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("SessionAt at expiry: %v, want ErrNotFound", err)
	}
	if err := f.store.DeleteSession(ctx, []byte("s-1")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.SessionAt(ctx, []byte("s-1"), now); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("SessionAt after sign-out: %v, want ErrNotFound", err)
	}
	if err := f.store.DeleteSession(ctx, []byte("never")); err != nil {
		t.Errorf("DeleteSession of an unknown session: %v", err)
	}
}

func TestPortalLinkAtDoesNotUseTheLink(t *testing.T) {
	t.Parallel()
	f, now := setupSessions(t)
	ctx := context.Background()
	if err := f.store.CreatePortalLink(ctx, []byte("l"), f.ws.ID, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if l, err := f.store.PortalLinkAt(ctx, []byte("l"), now); err != nil || l != (repo.PortalLink{WorkspaceID: f.ws.ID, WorkspaceName: "acme"}) {
			t.Errorf("PortalLinkAt = %+v, %v", l, err)
		}
	}
	if _, err := f.store.PortalLinkAt(ctx, []byte("l"), now.Add(time.Minute)); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("PortalLinkAt at expiry: %v, want ErrNotFound", err)
	}
	if _, err := f.store.StartSessionFromLink(ctx, []byte("l"), []byte("s"), now, now.Add(time.Hour)); err != nil {
		t.Errorf("the link no longer works after PortalLinkAt: %v", err)
	}
}

// A flash is shown once, to its own session, before it expires.
func TestFlashes(t *testing.T) {
	t.Parallel()
	f, now := setupSessions(t)
	ctx := context.Background()
	for _, s := range []string{"mine", "theirs"} {
		if err := f.store.CreateSession(ctx, []byte(s), f.ws.ID, now, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	flash := repo.Flash{Kind: "created", WebhookID: f.hook.ID}
	for _, token := range []string{"f1", "f2"} {
		if err := f.store.CreateFlash(ctx, []byte(token), []byte("mine"), flash, now, now.Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.store.TakeFlash(ctx, []byte("f1"), []byte("theirs"), now); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("another session took the flash: %v", err)
	}
	if got, err := f.store.TakeFlash(ctx, []byte("f1"), []byte("mine"), now); err != nil || got != flash {
		t.Errorf("TakeFlash = %+v, %v; want %+v", got, err, flash)
	}
	if _, err := f.store.TakeFlash(ctx, []byte("f1"), []byte("mine"), now); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("a flash was shown twice: %v", err)
	}
	if _, err := f.store.TakeFlash(ctx, []byte("f2"), []byte("mine"), now.Add(5*time.Minute)); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("an expired flash was shown: %v", err)
	}
	// Expired ones are cleared by the next flash; a session's end takes its own.
	if err := f.store.CreateFlash(ctx, []byte("f3"), []byte("mine"), flash, now.Add(time.Hour), now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := f.store.DeleteSession(ctx, []byte("mine")); err != nil {
		t.Fatal(err)
	}
	if n := f.mustCount(t, `SELECT count(*) FROM dashboard_flashes`); n != 0 {
		t.Errorf("%d flashes left, want none", n)
	}
}

func TestExpiredSessionsAndLinksAreCleared(t *testing.T) {
	t.Parallel()
	f, now := setupSessions(t)
	ctx := context.Background()
	for _, table := range []string{"dashboard_sessions", "dashboard_links"} {
		if _, err := f.db.Exec(`INSERT INTO `+table+` (token_hash, workspace_id, expires_at)
			SELECT ('old-' || i)::bytea, $1, $2 FROM generate_series(1, 150) i`, f.ws.ID, now.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	// Each sign-in clears a bounded batch of what has expired.
	if err := f.store.CreateSession(ctx, []byte("new"), f.ws.ID, now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := f.mustCount(t, `SELECT count(*) FROM dashboard_sessions`); n != 51 {
		t.Errorf("sessions after one sign-in = %d, want 50 expired left and the new one", n)
	}
	if err := f.store.CreatePortalLink(ctx, []byte("fresh"), f.ws.ID, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.StartSessionFromLink(ctx, []byte("fresh"), []byte("new-2"), now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := f.mustCount(t, `SELECT count(*) FROM dashboard_links`); n != 50 {
		t.Errorf("links after one portal sign-in = %d, want 50 expired left", n)
	}
}
