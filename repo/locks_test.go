package repo_test

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// TestAdvisoryLocksExcludeSecondCaller: each maintenance lock admits one
// caller at a time, and the sweep's and retention's do not block each other.
func TestAdvisoryLocksExcludeSecondCaller(t *testing.T) {
	t.Parallel()
	type withLock func(context.Context, func(context.Context) error) (bool, error)
	f := setup(t)
	for _, tt := range []struct {
		name        string
		lock, other withLock
	}{
		{"sweep", f.store.WithSweepLock, f.store.WithRetentionLock},
		{"retention", f.store.WithRetentionLock, f.store.WithSweepLock},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			holding := make(chan struct{})
			release := make(chan struct{})
			var wg sync.WaitGroup
			var firstRan bool
			var firstErr error
			wg.Go(func() {
				firstRan, firstErr = tt.lock(ctx, func(context.Context) error {
					close(holding)
					<-release
					return nil
				})
			})
			<-holding

			secondCalled := false
			ran, err := tt.lock(ctx, func(context.Context) error {
				secondCalled = true
				return nil
			})
			if ran || err != nil || secondCalled {
				t.Errorf("second caller = %v, %v (fn called %v); want false, nil, fn not called", ran, err, secondCalled)
			}
			if ran, err := tt.other(ctx, func(context.Context) error { return nil }); !ran || err != nil {
				t.Errorf("the other lock meanwhile = %v, %v; want true, nil", ran, err)
			}
			close(release)
			wg.Wait()
			if !firstRan || firstErr != nil {
				t.Errorf("first caller = %v, %v; want true, nil", firstRan, firstErr)
			}

			// Released: the next caller runs, and fn's error comes back.
			boom := errors.New("boom")
			ran, err = tt.lock(ctx, func(context.Context) error { return boom })
			if !ran || !errors.Is(err, boom) {
				t.Errorf("after release = %v, %v; want true, boom", ran, err)
			}
			// An error inside fn still releases the lock.
			ran, err = tt.lock(ctx, func(context.Context) error { return nil })
			if !ran || err != nil {
				t.Errorf("after an error = %v, %v; want true, nil", ran, err)
			}
		})
	}
}
