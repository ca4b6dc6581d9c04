// Package testmain runs a package's tests after fixtures they all share,
// which Example functions need, and fails the run when a goroutine is left
// running: a TestMain for packages whose tests share a setup.
package testmain

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// Run runs a package's tests after setup has built fixtures they all share,
// which is what Example functions need: they get no *testing.T of their own.
// Once the tests and cleanups are done, a goroutine left running fails the run.
// setup receives a testing.TB whose Cleanup functions run, last first, once
// the tests are over, and whose Fatal ends setup and fails the run, so the
// test helpers of this module (dbtest.NewStoreAndDB, redistest.NewDB, ...)
// work in it. Call it from TestMain as os.Exit(testmain.Run(m, setup)).
func Run(m *testing.M, setup func(tb testing.TB)) int {
	tb := &mainTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		setup(tb) // Fatal ends this goroutine with runtime.Goexit
	}()
	<-done
	code := 1
	if !tb.Failed() {
		code = m.Run()
	}
	tb.runCleanups()
	if tb.Failed() {
		code = 1
	}
	// As goleak.VerifyTestMain does: a goroutine left running by a test or
	// by setup's fixtures fails the run.
	if err := goleak.Find(); code == 0 && err != nil {
		fmt.Fprintf(os.Stderr, "TestMain: goroutines left running: %v\n", err)
		code = 1
	}
	return code
}

// mainTB is the testing.TB Run hands to setup. testing.TB cannot be
// implemented outside package testing, so it embeds a nil one: a method
// not defined here panics, and the test helpers of this module call none.
type mainTB struct {
	testing.TB

	mu       sync.Mutex
	failed   bool
	cleanups []func()
}

func (t *mainTB) Helper()      {}
func (t *mainTB) Name() string { return "TestMain" }

func (t *mainTB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *mainTB) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "TestMain: "+format+"\n", args...)
}

func (t *mainTB) Log(args ...any) { t.Logf("%s", fmt.Sprint(args...)) }

func (t *mainTB) Errorf(format string, args ...any) {
	t.Logf(format, args...)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failed = true
}

func (t *mainTB) Error(args ...any) { t.Errorf("%s", fmt.Sprint(args...)) }

func (t *mainTB) Fatalf(format string, args ...any) {
	t.Errorf(format, args...)
	runtime.Goexit()
}

func (t *mainTB) Fatal(args ...any) { t.Fatalf("%s", fmt.Sprint(args...)) }

func (t *mainTB) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

func (t *mainTB) runCleanups() {
	t.mu.Lock()
	fns := slices.Clone(t.cleanups)
	t.cleanups = nil
	t.mu.Unlock()
	for _, f := range slices.Backward(fns) {
		f()
	}
}
