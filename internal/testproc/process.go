// Package testproc builds the service binaries (api, worker, scheduler) and
// runs them under a test, watching for the address they listen on and
// keeping what they print; Getenv, MustLoad and WantRefused fake their
// environment for config tests.
package testproc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// BuildServices builds the api, worker and scheduler of the module rooted
// at moduleDir into outDir with one go build, which shares their
// dependencies; race builds them with the race detector.
func BuildServices(moduleDir, outDir string, race bool) error {
	args := []string{"build"}
	if race {
		args = append(args, "-race")
	}
	args = append(args, "-o", outDir+string(filepath.Separator), "./cmd/api", "./cmd/worker", "./cmd/scheduler")
	build := exec.Command("go", args...)
	build.Dir = moduleDir
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build the services: %w\n%s", err, out)
	}
	return nil
}

// Process is a service binary running under a test, with everything it
// wrote to stdout and stderr.
type Process struct {
	Name string
	Cmd  *exec.Cmd
	out  *processOutput
	done chan struct{} // closed once the process has exited and err is set
	err  error
}

// Start runs the binary at path with exactly env; name names it in
// errors and in Tail.
func Start(path, name string, env []string) (*Process, error) {
	p := &Process{
		Name: name,
		Cmd:  exec.Command(path),
		out:  &processOutput{listening: make(chan string, 1)},
		done: make(chan struct{}),
	}
	p.Cmd.Env = env
	p.Cmd.Stdout, p.Cmd.Stderr = p.out, p.out
	if err := p.Cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited says whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is how the process ended; read it only once Done is closed.
func (p *Process) Err() error { return p.err }

// Listening receives the address of the first {"msg":"listening","addr":…}
// line the process logs.
func (p *Process) Listening() <-chan string { return p.out.listening }

// WaitOrKill waits up to timeout for the process to exit, kills it when it
// has not, and says whether it exited by itself.
func (p *Process) WaitOrKill(timeout time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(timeout):
		p.Cmd.Process.Kill()
		<-p.done
		return false
	}
}

// Output is everything the process wrote so far.
func (p *Process) Output() string { return p.out.String() }

// Tail is at most the last n lines of the output, headed with the
// process's name, for failure messages.
func (p *Process) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(p.Output(), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return "(" + p.Name + " wrote no output)"
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "output of " + p.Name + ":\n" + strings.Join(lines, "\n")
}

// processOutput collects a process's output and reports the first
// listening line it sees.
type processOutput struct {
	listening chan string

	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte // output after the last newline, until "listening" is found
	found   bool
}

func (b *processOutput) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.found {
		return len(p), nil
	}
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(b.partial[:i], &line) == nil && line.Msg == "listening" && line.Addr != "" {
			b.found, b.partial = true, nil
			b.listening <- line.Addr
			return len(p), nil
		}
		b.partial = b.partial[i+1:]
	}
}

func (b *processOutput) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
