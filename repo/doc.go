// Package repo is the service's storage in PostgreSQL, and the one place
// every SQL statement lives: the schema and its embedded migrations, and each
// query and write of workspaces, webhooks, events, deliveries and their
// attempts, dashboard sessions, data retention and the advisory locks that
// keep maintenance to one runner.
//
// It speaks SQL and returns plain Go types (pointers for what may be NULL,
// []string for arrays); no other package imports database/sql or lib/pq.
//
// It holds no rules. What an attempt's answer means, when a delivery is
// tried again and how attempts fold into a webhook's health are package
// delivery's; repo stores what those rules produce, in as few statements as
// it can. It is the service's own, with no promise of compatibility to
// other modules (see the README's Layout).
package repo
