package api

import (
	"context"
	"net/http"
	"time"
)

// healthz is the liveness probe: it answers while the process serves,
// whatever its dependencies do (readyz is for those).
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz names each dependency's state, so an operator sees which one is
// down. The route is unauthenticated, so the error itself, which may carry
// addresses, goes to the log rather than to the caller.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	status, checks := http.StatusOK, map[string]string{}
	for _, c := range s.ready {
		if err := c.Fn(ctx); err != nil {
			s.log.WarnContext(ctx, "readiness check failed", "check", c.Name, "error", err)
			status, checks[c.Name] = http.StatusServiceUnavailable, "unavailable"
			continue
		}
		checks[c.Name] = "ok"
	}
	writeJSON(w, status, map[string]any{"ready": status == http.StatusOK, "checks": checks})
}
