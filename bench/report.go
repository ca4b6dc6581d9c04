//go:build bench

package bench

import (
	"fmt"
	"math"
	"strings"
)

// results are the figures of one benchmark; nil means the run did not
// happen (deselected with -run, or failed).
type results struct {
	deliveries, fanout, stored, paced *serviceRun
	noop, naive                       *baseline
}

func (r *results) serviceRuns() []*serviceRun {
	var runs []*serviceRun
	for _, s := range []*serviceRun{r.deliveries, r.fanout, r.stored, r.paced} {
		if s != nil {
			runs = append(runs, s)
		}
	}
	return runs
}

// printRun prints what one service run measured, as it ends.
func printRun(r serviceRun) {
	s := r.spec
	if s.paced {
		say("%s: %d events paced at %d/s for %v, %d webhook(s): api accepted %.0f/s (most behind: %d events), %s",
			s.name, r.deliveries/s.hooks, s.rate, s.duration, s.hooks, r.achievedRate, r.maxBacklog,
			verdict(r.keptPace(), "kept the pace", "did NOT keep the pace"))
		say("%s: last delivery %.1fs after the last POST: %s", s.name, r.drain.Seconds(),
			verdict(r.keptUp(), fmt.Sprintf("kept up (within %v)", keptUpWithin), fmt.Sprintf("did NOT keep up (more than %v)", keptUpWithin)))
	} else {
		say("%s: %d events → %d deliveries to %d webhook(s) from %d clients", s.name, s.events, r.deliveries, s.hooks, s.clients)
		say("%s: POSTs done after %.1fs (%.0f events/s); all delivered after %.1fs = %.0f deliveries/s",
			s.name, r.postsTook.Seconds(), float64(s.events)/r.postsTook.Seconds(), r.elapsed.Seconds(), r.perSecond())
	}
	say("%s: accept→receipt p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d arrived before their 202); POST /v1/events p50 %.1f ms, p99 %.1f ms",
		s.name, ms(r.latency.p50), ms(r.latency.p99), ms(r.latency.max), r.latency.early, ms(r.apiP50), ms(r.apiP99))
	say("%s: CPU seconds: %s", s.name, r.cpu)
	say("%s: worker peak RSS %.0f MiB; duplicate deliveries %d; worker waits without an attempt: %s",
		s.name, r.workerRSS, r.duplicates, r.waits)
}

func printBaseline(name string, b baseline) {
	say("%s: %d tasks in %.2fs = %.0f tasks/s", name, b.tasks, b.elapsed.Seconds(), b.perSecond())
}

func verdict(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

// figure is one row of the final table; value is nil when its run did
// not happen.
type figure struct {
	name    string
	value   *float64
	decimal bool // printed with one decimal, else as an integer
	meaning string
}

func (f figure) format() string {
	switch {
	case f.value == nil:
		return "n/a"
	case f.decimal:
		return fmt.Sprintf("%.1f", *f.value)
	default:
		return fmt.Sprintf("%d", int64(math.Round(*f.value)))
	}
}

func ptr(x float64) *float64 { return &x }

func perSecond(s *serviceRun) *float64 {
	if s == nil {
		return nil
	}
	return ptr(s.perSecond())
}

func tasksPerSecond(b *baseline) *float64 {
	if b == nil {
		return nil
	}
	return ptr(b.perSecond())
}

// pacedFigure reads one figure of the paced run.
func (r *results) pacedFigure(f func(serviceRun) float64) *float64 {
	if r.paced == nil {
		return nil
	}
	return ptr(f(*r.paced))
}

// figures are the RESULT line's fields in its order, then context rows
// that are not in it.
func (r *results) figures(sz sizes) (result, context []figure) {
	var rss *float64
	for _, s := range r.serviceRuns() {
		if rss == nil || s.workerRSS > *rss {
			rss = ptr(s.workerRSS)
		}
	}
	result = []figure{
		{"deliveries_per_s", perSecond(r.deliveries), false,
			fmt.Sprintf("saturated, 1 webhook, %d clients: %d deliveries / (first POST → all succeeded in PostgreSQL and received)", sz.clients, sz.events)},
		{"fanout_per_s", perSecond(r.fanout), false,
			fmt.Sprintf("the same with %d webhooks: %d events → %d deliveries", sz.fanoutHooks, sz.fanoutEvents, sz.fanoutEvents*sz.fanoutHooks)},
		{"stored_per_s", perSecond(r.stored), false,
			fmt.Sprintf("deliveries_per_s on a database already holding %d deliveries of the webhook", sz.history)},
		{"naive_per_s", tasksPerSecond(r.naive), false,
			"baseline: asynq task → signed POST → one INSERT, concurrency 64, in-process"},
		{"noop_per_s", tasksPerSecond(r.noop), false,
			"baseline: asynq tasks whose handler does nothing, concurrency 64"},
		{"paced_p50_ms", r.pacedFigure(func(s serviceRun) float64 { return ms(s.latency.p50) }), true,
			fmt.Sprintf("paced %d events/s for %v: median 202 → receipt", sz.pacedRate, sz.pacedDuration)},
		{"paced_p99_ms", r.pacedFigure(func(s serviceRun) float64 { return ms(s.latency.p99) }), true,
			"paced run: 99th percentile 202 → receipt"},
		{"api_p99_ms", r.pacedFigure(func(s serviceRun) float64 { return ms(s.apiP99) }), true,
			"paced run: 99th percentile POST /v1/events round trip"},
		{"worker_rss_mb", rss, false,
			"largest peak RSS (VmHWM) of the worker over the service runs, MiB"},
	}
	context = []figure{
		{"paced_achieved_per_s", r.pacedFigure(func(s serviceRun) float64 { return s.achievedRate }), false,
			"paced run: events the api accepted per second while sending (target " + fmt.Sprint(sz.pacedRate) + ")"},
		{"paced_drain_s", r.pacedFigure(func(s serviceRun) float64 { return s.drain.Seconds() }), true,
			fmt.Sprintf("paced run: last delivery's arrival after the last POST (kept up if ≤ %v)", keptUpWithin)},
	}
	for _, s := range []*serviceRun{r.deliveries, r.fanout, r.stored} {
		if s == nil {
			continue
		}
		context = append(context, figure{s.spec.name + "_p99_ms", ptr(ms(s.latency.p99)), true,
			s.spec.name + " run: 99th percentile 202 → receipt (a saturated queue: mostly waiting)"})
	}
	if r.stored != nil {
		context = append(context, figure{"seed_s", ptr(r.stored.seedTook.Seconds()), true,
			"time to seed the stored run's history, then vacuum, analyze and checkpoint"})
	}
	return result, context
}

// printTable prints every figure with its meaning and, last, the RESULT
// line, which is left out unless every figure was measured.
func (r *results) printTable(sz sizes) {
	result, context := r.figures(sz)
	say("")
	say("%-22s %10s  %s", "figure", "value", "what it is")
	complete := true
	var fields []string
	for _, f := range append(result, context...) {
		say("%-22s %10s  %s", f.name, f.format(), f.meaning)
	}
	for _, f := range result {
		complete = complete && f.value != nil
		fields = append(fields, f.name+"="+f.format())
	}
	say("")
	if !complete {
		say("(no RESULT line: not every run ran or passed)")
		return
	}
	say("RESULT %s", strings.Join(fields, " "))
}
