package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/trackelio/webhooks/internal/testproc"
	"github.com/trackelio/webhooks/jobs"
)

// recorder is a registrar that keeps what was registered.
type recorder struct{ entries []entry }

// entry is one registration. The task's queue is its own (jobs' tests
// check it); Unique comes with the registration.
type entry struct {
	Spec, Type, Payload string
	Unique              time.Duration
}

var _ registrar = (*recorder)(nil)

func (r *recorder) Register(spec string, task *asynq.Task, opts ...asynq.Option) (string, error) {
	e := entry{Spec: spec, Type: task.Type(), Payload: string(task.Payload())}
	for _, o := range opts {
		if o.Type() == asynq.UniqueOpt {
			e.Unique = o.Value().(time.Duration)
		}
	}
	r.entries = append(r.entries, e)
	return spec, nil
}

func TestSchedule(t *testing.T) {
	t.Parallel()
	sweep := entry{Spec: "@every 30s", Type: jobs.TypeOutboxSweep, Payload: `{"grace_ms":60000}`, Unique: 30 * time.Second}
	tests := []struct {
		name string
		vars map[string]string
		want []entry
	}{
		{"defaults", nil, []entry{sweep, {
			Spec: "@every 1h0m0s", Type: jobs.TypeRetention, Payload: `{"period_ms":2592000000}`, Unique: time.Hour,
		}}},
		{"retention set", map[string]string{"RETENTION_PERIOD": "2160h", "RETENTION_INTERVAL": "10m"}, []entry{sweep, {
			Spec: "@every 10m0s", Type: jobs.TypeRetention, Payload: `{"period_ms":7776000000}`, Unique: 10 * time.Minute,
		}}},
		{"retention off", map[string]string{"RETENTION_PERIOD": "0"}, []entry{sweep}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r recorder
			if err := schedule(&r, testproc.MustLoad(t, loadConfig, tt.vars)); err != nil {
				t.Fatalf("schedule: %v", err)
			}
			if diff := cmp.Diff(tt.want, r.entries); diff != "" {
				t.Errorf("registered (-want +got):\n%s", diff)
			}
		})
	}
}
