package repo_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/trackelio/webhooks/internal/testenv"
	"github.com/trackelio/webhooks/repo"
)

// newEmptyDatabase creates a database with no schema at all (not a clone of
// the migrated template) and drops it when the test ends.
func newEmptyDatabase(tb testing.TB) string {
	tb.Helper()
	admin, err := sqlx.Open("postgres", testenv.PostgresURL())
	if err != nil {
		tb.Fatalf("open admin connection: %v", err)
	}
	defer admin.Close()
	name := "trackelio_empty_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		tb.Fatalf("create database: %v", err)
	}
	tb.Cleanup(func() {
		admin, err := sqlx.Open("postgres", testenv.PostgresURL())
		if err != nil {
			tb.Errorf("open admin connection: %v", err)
			return
		}
		defer admin.Close()
		if _, err := admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
			tb.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(testenv.PostgresURL())
	if err != nil {
		tb.Fatalf("parse postgres url: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func mustOpen(tb testing.TB, dbURL string) *repo.Store {
	tb.Helper()
	st, err := repo.Open(context.Background(), dbURL, repo.Options{MaxConns: 2})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestLatestVersionMatchesMigrations(t *testing.T) {
	t.Parallel()
	v := repo.LatestVersion()
	if v < 1 {
		t.Fatalf("LatestVersion = %d, want at least 1", v)
	}
	if n := len(repo.MigrationSQL()); n != v {
		t.Errorf("len(MigrationSQL()) = %d, want LatestVersion %d", n, v)
	}
}

func TestCheckSchemaOnEmptyDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := mustOpen(t, newEmptyDatabase(t))

	v, err := st.SchemaVersion(ctx)
	if err != nil || v != 0 {
		t.Fatalf("SchemaVersion = %d, %v; want 0, nil", v, err)
	}
	err = st.CheckSchema(ctx)
	if !errors.Is(err, repo.ErrSchemaBehind) {
		t.Fatalf("CheckSchema = %v, want an error wrapping ErrSchemaBehind", err)
	}
	// The message must tell an operator where the database is, what the
	// binary needs, and how to fix it.
	for _, want := range []string{"version 0", fmt.Sprintf("needs %d", repo.LatestVersion()), "make migrate"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("CheckSchema error %q does not mention %q", err, want)
		}
	}
}

func TestMigrateConcurrentAndIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := newEmptyDatabase(t)

	// Three replicas starting at once, each with its own pool.
	const starters = 3
	errs := make([]error, starters)
	var wg sync.WaitGroup
	for i := range starters {
		st := mustOpen(t, dbURL)
		wg.Go(func() { errs[i] = st.Migrate(ctx, discardLog) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}

	st := mustOpen(t, dbURL)
	raw, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	assertMigrated := func(t *testing.T) {
		t.Helper()
		v, err := st.SchemaVersion(ctx)
		if err != nil || v != repo.LatestVersion() {
			t.Errorf("SchemaVersion = %d, %v; want %d, nil", v, err, repo.LatestVersion())
		}
		if err := st.CheckSchema(ctx); err != nil {
			t.Errorf("CheckSchema after Migrate: %v", err)
		}
		var rows int
		if err := raw.Get(&rows, `SELECT count(*) FROM schema_migrations`); err != nil {
			t.Fatalf("count schema_migrations: %v", err)
		}
		if rows != repo.LatestVersion() {
			t.Errorf("schema_migrations has %d rows, want %d", rows, repo.LatestVersion())
		}
	}
	assertMigrated(t)

	// Running again is a no-op.
	if err := st.Migrate(ctx, discardLog); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	assertMigrated(t)

	// The migrated schema is usable.
	if _, err := st.CreateWorkspace(ctx, "after migrate", []byte("k")); err != nil {
		t.Errorf("CreateWorkspace on migrated database: %v", err)
	}
}
