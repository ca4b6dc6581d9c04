package testproc_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trackelio/webhooks/internal/testproc"
)

// script writes an executable shell script and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "svc")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestProcessReportsListeningAndOutput(t *testing.T) {
	path := script(t, `echo starting
echo '{"msg":"listening","addr":"127.0.0.1:4321"}'
echo "$GREETING" >&2
echo '{"msg":"listening","addr":"127.0.0.1:9"}'
`)
	p, err := testproc.Start(path, "svc", []string{"GREETING=hello"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case addr := <-p.Listening():
		if addr != "127.0.0.1:4321" {
			t.Errorf("Listening = %q, want the first listening line's address", addr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no listening address")
	}
	if !p.WaitOrKill(10*time.Second) || p.Err() != nil || !p.Exited() {
		t.Fatalf("the script did not end cleanly: %v", p.Err())
	}
	if out := p.Output(); !strings.Contains(out, "starting\n") || !strings.Contains(out, "hello\n") {
		t.Errorf("Output = %q, want stdout and stderr", out)
	}
	want := "output of svc:\nhello\n" + `{"msg":"listening","addr":"127.0.0.1:9"}`
	if got := p.Tail(2); got != want {
		t.Errorf("Tail(2) = %q, want %q", got, want)
	}
}

func TestProcessWaitOrKill(t *testing.T) {
	// It says it listens once SIGTERM is ignored; sleep inherits that.
	p, err := testproc.Start(script(t, `trap '' TERM
echo '{"msg":"listening","addr":"-"}'
exec sleep 30
`), "stubborn", nil)
	if err != nil {
		t.Fatal(err)
	}
	<-p.Listening()
	p.Cmd.Process.Signal(syscall.SIGTERM)
	if p.WaitOrKill(200 * time.Millisecond) {
		t.Fatal("WaitOrKill = true for a process that ignores SIGTERM")
	}
	if !p.Exited() || p.Err() == nil {
		t.Errorf("after the kill: exited %v, err %v; want exited with an error", p.Exited(), p.Err())
	}
}

func TestProcessWithoutOutput(t *testing.T) {
	p, err := testproc.Start(script(t, "exit 3\n"), "quiet", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !p.WaitOrKill(10*time.Second) || p.Err() == nil {
		t.Fatalf("exit 3: err %v, want an exit error", p.Err())
	}
	if got := p.Tail(5); got != "(quiet wrote no output)" {
		t.Errorf("Tail = %q", got)
	}
}

func TestStartOfAMissingBinary(t *testing.T) {
	if _, err := testproc.Start(filepath.Join(t.TempDir(), "nope"), "nope", nil); err == nil || !strings.Contains(err.Error(), "start nope") {
		t.Errorf("Start = %v, want an error naming the process", err)
	}
}
