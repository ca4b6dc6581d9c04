package dbtest

import (
	"database/sql/driver"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// RowCounts counts the rows of each table over db, so a test can show that
// a refused request stored nothing.
func RowCounts(tb testing.TB, db *sqlx.DB, tables ...string) map[string]int {
	tb.Helper()
	counts := make(map[string]int, len(tables))
	for _, table := range tables {
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM `+table); err != nil {
			tb.Fatalf("dbtest: count the rows of %s: %v", table, err)
		}
		counts[table] = n
	}
	return counts
}

// Analyze refreshes the planner's statistics after seeding, so plans are
// those of a database that holds the rows.
func Analyze(tb testing.TB, db *sqlx.DB) {
	tb.Helper()
	if _, err := db.Exec(`ANALYZE`); err != nil {
		tb.Fatalf("dbtest: analyze: %v", err)
	}
}

// WantRowCounts checks that the tables counted in before hold as many rows
// as they did then; what names what ran since, for the failure message.
func WantRowCounts(tb testing.TB, db *sqlx.DB, before map[string]int, what string) {
	tb.Helper()
	tables := make([]string, 0, len(before))
	for table := range before {
		tables = append(tables, table)
	}
	if diff := cmp.Diff(before, RowCounts(tb, db, tables...)); diff != "" {
		tb.Errorf("%s changed rows (-before +after):\n%s", what, diff)
	}
}

// Array passes strings to tests' raw SQL as one PostgreSQL array, as in
// "id = ANY($1::uuid[])".
func Array(s []string) driver.Valuer { return pq.StringArray(s) }
