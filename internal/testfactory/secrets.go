package testfactory

import (
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// StoredSecrets is a webhook's current and previous secret as stored, read
// around the store so a test sees what rotation really wrote.
type StoredSecrets struct {
	Secret         string     `db:"secret"`
	Previous       *string    `db:"previous_secret"`
	PreviousExpiry *time.Time `db:"previous_secret_expires_at"`
}

// Secrets reads a webhook's stored secrets over db.
func Secrets(tb testing.TB, db *sqlx.DB, webhookID string) StoredSecrets {
	tb.Helper()
	var s StoredSecrets
	if err := db.Get(&s, `SELECT secret, previous_secret, previous_secret_expires_at FROM webhooks WHERE id = $1`, webhookID); err != nil {
		tb.Fatalf("testfactory: read the secrets of webhook %s: %v", webhookID, err)
	}
	return s
}
