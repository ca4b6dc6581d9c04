package boot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/trackelio/webhooks/metrics"
)

// Defaults shared by the binaries.
const (
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/trackelio?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
)

// NewLogger returns a JSON logger at the named level (debug, info, warn, error).
func NewLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("LOG_LEVEL=%q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// Version is the module version stamped by the Go toolchain, or "dev".
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// Serve listens on addr, logs the bound address (tests pass :0 and read it),
// and serves until ctx ends, then drains requests for up to drain.
func Serve(ctx context.Context, log *slog.Logger, addr string, h http.Handler, drain time.Duration) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", addr, err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shut down %s: %w", addr, err)
	}
	return nil
}

// RunFunc is a binary's body: it reads configuration through getenv, writes
// logs to stdout, and returns when ctx ends or it fails.
type RunFunc func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error

// Main runs run with a context cancelled by SIGINT or SIGTERM and exits
// non-zero, naming the binary, when it fails.
func Main(name string, run RunFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// AdminHandler serves /metrics from reg, /healthz, which answers 503 while
// ping fails (Redis unreachable), and Go's profiles under /debug/pprof/ for
// the operators who reach this port.
func AdminHandler(reg *prometheus.Registry, ping func() error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler(reg))
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ping(); err != nil {
			http.Error(w, "redis unreachable: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	return mux
}

// ParseRedis reads REDIS_URL: redis://[:password@]host:port[/db],
// rediss:// (TLS), redis-socket:///path, or, for a primary that Redis
// Sentinel finds and fails over,
// redis-sentinel://[:password@]host1:port,host2:port,...?master=name.
func ParseRedis(url string) (asynq.RedisConnOpt, error) {
	opt, err := asynq.ParseRedisURI(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if f, ok := opt.(asynq.RedisFailoverClientOpt); ok && f.MasterName == "" {
		return nil, fmt.Errorf("REDIS_URL: a redis-sentinel:// URL needs ?master=<name of the primary>")
	}
	return opt, nil
}

// RedisClient builds a go-redis client from the options asynq uses, so the
// service's own Redis calls (in-flight leases, the orphan recoverer, the
// api's enqueues) follow a Sentinel failover as asynq's do.
func RedisClient(opt asynq.RedisConnOpt) (*redis.Client, error) {
	c, ok := opt.MakeRedisClient().(*redis.Client)
	if !ok {
		return nil, fmt.Errorf("REDIS_URL: %T is not a single-primary Redis", opt)
	}
	return c, nil
}

// OpenRedis connects through go-redis' blocking autopipeliner, for the
// api's asynq client. Every accepted delivery is one enqueue script call,
// made by many request goroutines at once: the autopipeliner sends the calls
// that are waiting together in one write and reads their replies in one read,
// where a plain client pays a round trip and two syscalls on each side per
// call; a lone call still goes at once. (The worker keeps a plain client:
// asynq dequeues from one goroutine, one call at a time, and there the
// pipeliner measured as more CPU than it saved.) close stops the pipeliner
// and the connections.
func OpenRedis(opt asynq.RedisConnOpt) (c redis.UniversalClient, close func(), err error) {
	client, err := RedisClient(opt)
	if err != nil {
		return nil, nil, err
	}
	ap, err := client.AutoPipeline()
	if err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("redis autopipeliner: %w", err)
	}
	return ap, func() {
		ap.Close()
		client.Close()
	}, nil
}
