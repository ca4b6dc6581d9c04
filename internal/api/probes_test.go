package api_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/api"
	"github.com/trackelio/webhooks/internal/manage"
)

type readiness struct {
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"`
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	f := setup(t)
	got := answerAs[map[string]string](t, f.do(t, request{Method: "GET", Path: "/healthz"}), http.StatusOK)
	if diff := cmp.Diff(map[string]string{"status": "ok"}, got); diff != "" {
		t.Errorf("healthz (-want +got):\n%s", diff)
	}
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }

	t.Run("all checks pass", func(t *testing.T) {
		t.Parallel()
		f := setup(t, func(c *api.Config, _ *manage.Config) {
			store := c.Store.(interface{ Ping(context.Context) error })
			c.Ready = []api.Check{{Name: "postgres", Fn: store.Ping}, {Name: "redis", Fn: ok}}
		})
		got := answerAs[readiness](t, f.do(t, request{Method: "GET", Path: "/readyz"}), http.StatusOK)
		want := readiness{Ready: true, Checks: map[string]string{"postgres": "ok", "redis": "ok"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("readyz (-want +got):\n%s", diff)
		}
	})

	t.Run("a failing check is named", func(t *testing.T) {
		t.Parallel()
		var gotCtx context.Context
		f := setup(t, func(c *api.Config, _ *manage.Config) {
			c.Ready = []api.Check{
				{Name: "postgres", Fn: ok},
				{Name: "redis", Fn: func(ctx context.Context) error {
					gotCtx = ctx
					return errors.New("dial tcp 127.0.0.1:6379: connection refused")
				}},
			}
		})
		res := f.do(t, request{Method: "GET", Path: "/readyz"})
		got := answerAs[readiness](t, res, http.StatusServiceUnavailable)
		want := readiness{Ready: false, Checks: map[string]string{
			"postgres": "ok",
			"redis":    "unavailable", // the dial error and its address go to the log only
		}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("readyz (-want +got):\n%s", diff)
		}
		if strings.Contains(string(res.Body), "6379") {
			t.Errorf("readyz told an unauthenticated caller an address: %s", res.Body)
		}
		if _, has := gotCtx.Deadline(); !has {
			t.Errorf("readiness check ran without a deadline")
		}
	})

	t.Run("no checks", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		got := answerAs[readiness](t, f.do(t, request{Method: "GET", Path: "/readyz"}), http.StatusOK)
		if diff := cmp.Diff(readiness{Ready: true, Checks: map[string]string{}}, got); diff != "" {
			t.Errorf("readyz (-want +got):\n%s", diff)
		}
	})
}
