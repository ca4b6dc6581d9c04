// Package boot holds the few functions the three binaries share to start:
// reading environment configuration, logging, and serving HTTP until stopped.
package boot

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/destination"
)

// Env reads typed settings from an environment lookup, collecting every bad
// value so the operator sees them all at once.
type Env struct {
	get  func(string) string
	errs []error
}

// NewEnv reads settings through getenv (os.Getenv in production).
func NewEnv(getenv func(string) string) *Env { return &Env{get: getenv} }

// String returns the variable or def when unset.
func (e *Env) String(key, def string) string {
	if v := e.get(key); v != "" {
		return v
	}
	return def
}

// Duration parses a Go duration such as 10s or 1m30s.
func (e *Env) Duration(key string, def time.Duration) time.Duration {
	v := e.get(key)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: not a duration like 10s or 1m30s", key, v))
		return def
	}
	return d
}

// Int parses a whole number.
func (e *Env) Int(key string, def int) int {
	v := e.get(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: not a whole number", key, v))
		return def
	}
	return n
}

// Float parses a decimal number.
func (e *Env) Float(key string, def float64) float64 {
	v := e.get(key)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: not a number", key, v))
		return def
	}
	return f
}

// Check records err as a configuration problem of key when it is not nil.
func (e *Env) Check(key string, err error) {
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s: %w", key, err))
	}
}

// Err returns every problem found, or nil.
func (e *Env) Err() error {
	if len(e.errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid configuration: %w", errors.Join(e.errs...))
}

// Bool parses true/false (and the other forms strconv.ParseBool takes).
func (e *Env) Bool(key string, def bool) bool {
	v := e.get(key)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: not true or false", key, v))
		return def
	}
	return b
}

// CIDRs parses a comma list of address ranges.
func (e *Env) CIDRs(key string) []netip.Prefix {
	p, err := destination.ParseCIDRs(e.get(key))
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s: %w", key, err))
	}
	return p
}

// AutoDisable reads WEBHOOK_DISABLE_AFTER and WEBHOOK_DISABLE_MIN_FAILURES:
// the workers apply them, the api's dashboard says when a failing webhook
// will be disabled, so both read them the same way.
func (e *Env) AutoDisable() delivery.AutoDisable {
	d := delivery.AutoDisable{
		After:       e.Duration("WEBHOOK_DISABLE_AFTER", 5*24*time.Hour),
		MinFailures: e.Int("WEBHOOK_DISABLE_MIN_FAILURES", 20),
	}
	if d.MinFailures < 1 || d.After < 0 {
		e.Check("WEBHOOK_DISABLE_MIN_FAILURES", fmt.Errorf("WEBHOOK_DISABLE_MIN_FAILURES must be at least 1 and WEBHOOK_DISABLE_AFTER not negative"))
	}
	return d
}
