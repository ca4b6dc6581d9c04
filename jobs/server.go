package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/hibiken/asynq"

	"github.com/trackelio/webhooks/metrics"
)

// ServerConfig is the worker's asynq configuration.
type ServerConfig struct {
	Concurrency int
	// PollInterval is how long an idle worker waits before checking the
	// queues again. asynq's 1 s default would add up to a second of latency
	// to every delivery that arrives while the worker is idle.
	PollInterval time.Duration
	// ShutdownTimeout lets in-flight attempts finish and be recorded.
	ShutdownTimeout time.Duration
}

// NewServer builds the asynq server with the retry policy wired in.
func NewServer(redis asynq.RedisConnOpt, cfg ServerConfig, m *metrics.Metrics, log *slog.Logger) *asynq.Server {
	return asynq.NewServer(redis, asynq.Config{
		Concurrency:       cfg.Concurrency,
		TaskCheckInterval: cfg.PollInterval,
		// Retries, waits and scheduled tasks become runnable with at most
		// this lag past their due second (asynq keeps due times in whole
		// seconds); four small Redis calls a second per queue are cheap.
		DelayedTaskCheckInterval: 250 * time.Millisecond,
		Queues:                   queueWeights,
		RetryDelayFunc:           RetryDelay,
		IsFailure:                IsFailure,
		ShutdownTimeout:          cfg.ShutdownTimeout,
		Logger:                   NewLogger(log),
		LogLevel:                 asynq.InfoLevel,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			var ra *RetryAfterError
			if errors.As(err, &ra) || errors.Is(err, asynq.SkipRetry) {
				return // delivery outcomes are logged by the handler
			}
			m.TaskErrors.WithLabelValues(t.Type()).Inc()
			log.ErrorContext(ctx, "task failed", "task_type", t.Type(), "error", err)
		}),
	})
}

// Handlers are the task handlers a worker serves.
type Handlers struct {
	Deliver   asynq.Handler
	Sweep     asynq.Handler
	Retention asynq.Handler
	Notices   *NoticeHandlers
}

// NewMux routes task types to handlers, turning a handler panic into an
// error so one bad task cannot take the worker down.
func NewMux(h Handlers, log *slog.Logger) *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.Use(func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) (err error) {
			defer func() {
				if r := recover(); r != nil {
					log.ErrorContext(ctx, "task handler panicked", "task_type", t.Type(), "panic", r, "stack", string(debug.Stack()))
					err = fmt.Errorf("task %s panicked: %v", t.Type(), r)
				}
			}()
			return next.ProcessTask(ctx, t)
		})
	})
	mux.Handle(TypeDeliver, h.Deliver)
	mux.Handle(TypeOutboxSweep, h.Sweep)
	mux.Handle(TypeRetention, h.Retention)
	mux.HandleFunc(TypeNoticeDispatch, h.Notices.Dispatch)
	mux.HandleFunc(TypeNoticeMail, h.Notices.Mail)
	return mux
}

// Logger adapts slog to asynq's logger interface.
type Logger struct{ log *slog.Logger }

// NewLogger wraps a slog logger for asynq.
func NewLogger(log *slog.Logger) *Logger { return &Logger{log: log.With("component", "asynq")} }

// Debug implements asynq.Logger.
func (l *Logger) Debug(args ...any) { l.log.Debug(fmt.Sprint(args...)) }

// Info implements asynq.Logger.
func (l *Logger) Info(args ...any) { l.log.Info(fmt.Sprint(args...)) }

// Warn implements asynq.Logger.
func (l *Logger) Warn(args ...any) { l.log.Warn(fmt.Sprint(args...)) }

// Error implements asynq.Logger.
func (l *Logger) Error(args ...any) { l.log.Error(fmt.Sprint(args...)) }

// Fatal implements asynq.Logger; asynq calls it only for unrecoverable setup errors.
func (l *Logger) Fatal(args ...any) { l.log.Error(fmt.Sprint(args...)); panic(fmt.Sprint(args...)) }
