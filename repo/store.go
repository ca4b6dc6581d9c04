package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	neturl "net/url"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the PostgreSQL driver sqlx.Open names

	"github.com/trackelio/webhooks/internal/batch"
)

// Options sizes the connection pool.
type Options struct {
	// MaxConns caps open connections; idle connections are kept up to the same
	// number, because the default of two idle connections makes a busy worker
	// reconnect constantly.
	MaxConns int
}

// Store is the sqlx handle plus the hot path's statements, each prepared on
// first use and then once per connection that runs it (see prepared), and
// the batcher that coalesces concurrent CreateEvent calls.
type Store struct {
	db *sqlx.DB
	// The hot statements: parsed and planned once per connection instead
	// of on every call.
	works, record, insertEvents prepared
	// events batches CreateEvent's concurrent callers into one commit.
	events *batch.Batcher[NewEvent, AcceptedEvent]
}

// prepared is a statement prepared on first use. Preparing waits until the
// first call because a Store is opened before the migrations run; a failed
// preparation (the database was down) is tried again on the next call.
type prepared struct {
	query string
	mu    sync.Mutex
	stmt  *sqlx.Stmt
}

func (p *prepared) get(ctx context.Context, db *sqlx.DB) (*sqlx.Stmt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stmt == nil {
		stmt, err := db.PreparexContext(ctx, p.query)
		if err != nil {
			return nil, fmt.Errorf("prepare statement: %w", err)
		}
		p.stmt = stmt
	}
	return p.stmt, nil
}

// Open connects to PostgreSQL and verifies the connection.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	db, err := sqlx.Open("postgres", withPointPlans(url))
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 10
	}
	db.SetMaxOpenConns(opts.MaxConns)
	db.SetMaxIdleConns(opts.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	s := &Store{db: db, works: prepared{query: worksSQL}, record: prepared{query: recordSQL}, insertEvents: prepared{query: createEventsSQL}}
	s.events = batch.New(batch.Config[NewEvent, AcceptedEvent]{Flush: s.createEvents, Max: 256})
	return s, nil
}

// withPointPlans sets every connection up for the service's statements:
// point lookups and short index range scans. Prepared statements keep one
// generic plan (planning the hot statements for every batch cost more than
// running them), and sequential scans are off, so a plan made while a table
// was small or empty (a new database, a burst of deliveries before
// autovacuum's first ANALYZE) cannot scan the whole table for good: hot
// statements reach rows through "id = ANY($1)", an index condition no
// whole-table or whole-index scan can beat. Migrations, which rewrite whole
// tables, turn scans back on.
func withPointPlans(dsn string) string {
	settings := map[string]string{"enable_seqscan": "off", "plan_cache_mode": "force_generic_plan"}
	u, err := neturl.Parse(dsn)
	if err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		for k, v := range settings {
			if !q.Has(k) {
				q.Set(k, v)
			}
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	for k, v := range settings {
		if !strings.Contains(dsn, k) {
			dsn += " " + k + "=" + v
		}
	}
	return dsn
}

// Close writes the events it was handed, and closes the pool and its
// prepared statements.
func (s *Store) Close() error {
	s.events.Close()
	for _, p := range []*prepared{&s.works, &s.record, &s.insertEvents} {
		p.mu.Lock()
		if p.stmt != nil {
			p.stmt.Close()
		}
		p.mu.Unlock()
	}
	return s.db.Close()
}

// Ping checks that PostgreSQL answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

// getOne reads one row into dest; no row is ErrNotFound, and any other
// error is wrapped with what was being read.
func (s *Store) getOne(ctx context.Context, dest any, what, query string, args ...any) error {
	err := s.db.GetContext(ctx, dest, query, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
