// Package dbtest gives each test its own PostgreSQL database on the real
// local server, cloned from a template migrated once per schema version, so
// test packages can run in parallel and leave nothing behind. It also opens
// Stores and raw pools on those databases, optionally behind a
// faultproxy.Proxy, reads row counts, refreshes statistics, and passes
// string arrays to tests' raw SQL.
package dbtest

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // PostgreSQL driver

	"github.com/trackelio/webhooks/internal/faultproxy"
	"github.com/trackelio/webhooks/repo"
)

// PostgresURL is the server tests use: TEST_DATABASE_URL or the local default.
func PostgresURL() string {
	return cmp.Or(os.Getenv("TEST_DATABASE_URL"), "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
}

func withDatabase(rawURL, name string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(fmt.Sprintf("dbtest: bad postgres url %q: %v", rawURL, err))
	}
	u.Path = "/" + name
	return u.String()
}

// templateName changes whenever the migrations change, so a stale template
// from an earlier run is never cloned.
func templateName() string {
	h := sha256.New()
	fmt.Fprint(h, repo.LatestVersion())
	for _, s := range repo.MigrationSQL() {
		io.WriteString(h, s)
	}
	return "trackelio_tmpl_" + hex.EncodeToString(h.Sum(nil))[:12]
}

// templateLock serialises template creation across test processes.
const templateLock = 0x7465_7374_746d_706c

func ensureTemplate(ctx context.Context, admin *sqlx.DB, name string) error {
	conn, err := admin.Connx(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, templateLock); err != nil {
		return fmt.Errorf("template lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, templateLock) //nolint:errcheck
	var exists bool
	if err := conn.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name); err != nil {
		return err
	}
	if exists {
		return nil
	}
	building := name + "_build"
	conn.ExecContext(ctx, `DROP DATABASE IF EXISTS `+building) //nolint:errcheck // leftover of a killed run
	if _, err := conn.ExecContext(ctx, `CREATE DATABASE `+building); err != nil {
		return fmt.Errorf("create template: %w", err)
	}
	st, err := repo.Open(ctx, withDatabase(PostgresURL(), building), repo.Options{MaxConns: 2})
	if err != nil {
		return err
	}
	err = st.Migrate(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)))
	st.Close()
	if err != nil {
		return fmt.Errorf("migrate template: %w", err)
	}
	// Renaming last makes the template appear only once it is complete.
	if _, err := conn.ExecContext(ctx, `ALTER DATABASE `+building+` RENAME TO `+name); err != nil {
		return fmt.Errorf("publish template: %w", err)
	}
	return nil
}

// randomSuffix names a database no other test uses.
func randomSuffix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// NewDatabase creates a migrated database cloned from a template, returns its
// URL, and drops it when the test ends.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	admin, err := sqlx.Open("postgres", PostgresURL())
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	defer admin.Close()
	if err := admin.PingContext(ctx); err != nil {
		tb.Fatalf("dbtest: PostgreSQL at %s is not reachable (start it, or set TEST_DATABASE_URL): %v", PostgresURL(), err)
	}
	tmpl := templateName()
	if err := ensureTemplate(ctx, admin, tmpl); err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	name := "trackelio_test_" + randomSuffix()
	// Cloning fails while another session is connected to the template, which
	// only happens for a moment while another process checks it; retry briefly.
	for i := 0; ; i++ {
		_, err = admin.ExecContext(ctx, `CREATE DATABASE `+name+` TEMPLATE `+tmpl)
		if err == nil || i == 50 || !strings.Contains(err.Error(), "being accessed by other users") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		tb.Fatalf("dbtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		admin, err := sqlx.Open("postgres", PostgresURL())
		if err != nil {
			tb.Errorf("dbtest: %v", err)
			return
		}
		defer admin.Close()
		if _, err := admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
			tb.Errorf("dbtest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(PostgresURL(), name)
}

func openStore(tb testing.TB, dbURL string) *repo.Store {
	tb.Helper()
	st, err := repo.Open(context.Background(), dbURL, repo.Options{MaxConns: 5})
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// NewStoreAndDB returns a Store on a fresh database and a second, small
// pool on the same database for assertions on raw rows the Store does not
// expose; both close when the test ends.
func NewStoreAndDB(tb testing.TB) (*repo.Store, *sqlx.DB) {
	tb.Helper()
	dbURL := NewDatabase(tb)
	return openStore(tb, dbURL), openDB(tb, dbURL)
}

// NewStoreBehindProxy is NewStoreAndDB with the Store's connections going
// through a faultproxy.Proxy the test can cut, as if PostgreSQL went down;
// the assertion pool connects directly.
func NewStoreBehindProxy(tb testing.TB) (*repo.Store, *sqlx.DB, *faultproxy.Proxy) {
	tb.Helper()
	dbURL := NewDatabase(tb)
	proxied, proxy := faultproxy.URL(tb, dbURL)
	return openStore(tb, proxied), openDB(tb, dbURL), proxy
}

func openDB(tb testing.TB, dbURL string) *sqlx.DB {
	tb.Helper()
	db, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		tb.Fatalf("dbtest: open assertion connection: %v", err)
	}
	db.SetMaxOpenConns(2)
	tb.Cleanup(func() { db.Close() })
	return db
}
