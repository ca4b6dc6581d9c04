package testfactory

import (
	"context"
	"testing"

	"github.com/trackelio/webhooks/repo"
)

// The worker's reads and writes, for tests that play the worker or look at
// what it would load: through the same batch methods the worker calls.

// Work loads a delivery as the worker does; the test stops if it is unknown.
func Work(tb testing.TB, store *repo.Store, deliveryID string) repo.Work {
	tb.Helper()
	ws, err := store.Works(context.Background(), []string{deliveryID})
	if err != nil {
		tb.Fatalf("testfactory: Works(%s): %v", deliveryID, err)
	}
	w, ok := ws[deliveryID]
	if !ok {
		tb.Fatalf("testfactory: Works(%s) has no such delivery", deliveryID)
	}
	return w
}

// Record stores one attempt as the worker does and returns what recording
// it did; the test stops unless the attempt was stored. Goroutines other
// than the test's call Store.RecordAttempts themselves.
func Record(tb testing.TB, store *repo.Store, r repo.AttemptResult) repo.Recorded {
	tb.Helper()
	recs, err := store.RecordAttempts(context.Background(), []repo.AttemptResult{r})
	if err != nil {
		tb.Fatalf("testfactory: record attempt %d of delivery %s: %v", r.Attempt, r.DeliveryID, err)
	}
	if !recs[0].Stored {
		tb.Fatalf("testfactory: attempt %d of delivery %s was not stored", r.Attempt, r.DeliveryID)
	}
	return recs[0]
}
