//go:build bench

package bench

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// results are the figures of one benchmark; nil means the run did not
// happen (deselected with -run, or failed).
type results struct {
	deliveries, fanout, stored, paced             *serviceRun
	slow1, slowFleet, mixed, mixedClean, inflight *serviceRun
	scale                                         [len(scaleWorkers)]*serviceRun
	noop, naive                                   *baseline
}

// scaleWorkers are the scale runs' worker processes, each with its target
// speed-up over one worker.
var scaleWorkers = [...]struct {
	n      int
	target float64
}{{1, 1}, {2, 1.8}, {4, 3.4}}

// serviceRuns are the runs worker_rss_mb is the largest peak of: the
// original four, at the worker's default settings.
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
			s.name, r.events, s.rate, s.duration, s.hooks, r.achievedRate, r.maxBacklog,
			verdict(r.keptPace(), "kept the pace", "did NOT keep the pace"))
	} else {
		say("%s: %d events → %d deliveries to %d webhook(s) from %d clients", s.name, s.events, r.deliveries, s.hooks, s.clients)
	}
	if len(s.bad) > 0 {
		say("%s: %d of the webhooks answer badly and are left out below: the figures are the %d healthy ones'", s.name, len(s.bad), s.healthyHooks())
	}
	switch {
	case s.steadyOnly:
		say("%s: not waiting for the backlog: the service cannot keep up by design", s.name)
	case s.paced:
		say("%s: last delivery %.1fs after the last POST: %s", s.name, r.drain.Seconds(),
			verdict(r.keptUp(), fmt.Sprintf("kept up (within %v)", keptUpWithin), fmt.Sprintf("did NOT keep up (more than %v)", keptUpWithin)))
		say("%s: all %d deliveries after %.1fs = %.0f deliveries/s; in the steady window %.2f of the rate offered",
			s.name, r.deliveries, r.elapsed.Seconds(), r.perSecond(), r.deliveredRatio())
	default:
		say("%s: POSTs done after %.1fs (%.0f events/s); all delivered after %.1fs = %.0f deliveries/s",
			s.name, r.postsTook.Seconds(), float64(s.events)/r.postsTook.Seconds(), r.elapsed.Seconds(), r.perSecond())
	}
	if w := r.window; w != nil {
		say("%s: steady window (+%v to the end of offering, %.1fs): %d deliveries received = %.0f/s; %d connections accepted = %.2f per 1,000 deliveries",
			s.name, s.warmup, w.to.Sub(w.from).Seconds(), w.deliveries, w.perSecond(), w.conns, w.connsPer1k())
	}
	say("%s: accept→receipt p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d arrived before their 202); POST /v1/events p50 %.1f ms, p99 %.1f ms",
		s.name, ms(r.latency.p50), ms(r.latency.p99), ms(r.latency.max), r.latency.early, ms(r.apiP50), ms(r.apiP99))
	say("%s: CPU seconds: %s", s.name, r.cpu)
	say("%s: worker peak RSS %.0f MiB; duplicate deliveries %d; worker waits without an attempt: %s; receivers held at most %d requests at once",
		s.name, r.workerRSS, r.duplicates, r.waits, r.peakInFlight)
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
	name     string
	value    *float64
	decimals int // printed with this many decimals
	meaning  string
}

func (f figure) format() string {
	switch {
	case f.value == nil:
		return "n/a"
	case f.decimals == 0:
		return fmt.Sprintf("%d", int64(math.Round(*f.value)))
	default:
		return strconv.FormatFloat(*f.value, 'f', f.decimals, 64)
	}
}

func ptr(x float64) *float64 { return &x }

// of reads one figure of a run that may not have happened.
func of(s *serviceRun, f func(serviceRun) float64) *float64 {
	if s == nil {
		return nil
	}
	return ptr(f(*s))
}

func tasksPerSecond(b *baseline) *float64 {
	if b == nil {
		return nil
	}
	return ptr(b.perSecond())
}

// ratio is a ÷ b, nil unless both were measured.
func ratio(a, b *float64) *float64 {
	if a == nil || b == nil || *b == 0 {
		return nil
	}
	return ptr(*a / *b)
}

func p99ms(s serviceRun) float64 { return ms(s.latency.p99) }

// steadyPerSecond is the deliveries received per second in a run's steady
// window, nil when the run had none.
func steadyPerSecond(s *serviceRun) *float64 {
	if s == nil || s.window == nil {
		return nil
	}
	return ptr(s.window.perSecond())
}

// tlsRuns are the HTTPS runs with a steady window.
func (r *results) tlsRuns() []*serviceRun {
	var runs []*serviceRun
	for _, s := range []*serviceRun{r.slow1, r.slowFleet, r.mixed, r.mixedClean} {
		if s != nil && s.spec.tls && s.window != nil && s.window.deliveries > 0 {
			runs = append(runs, s)
		}
	}
	return runs
}

// tlsPer1k is the new TLS connections per 1,000 deliveries over the
// steady windows of the HTTPS runs, summed.
func (r *results) tlsPer1k() *float64 {
	conns, deliveries := 0, 0
	for _, s := range r.tlsRuns() {
		conns += s.window.conns
		deliveries += s.window.deliveries
	}
	if deliveries == 0 {
		return nil
	}
	return ptr(1000 * float64(conns) / float64(deliveries))
}

// inflightRSS is the in-flight run's worker RSS, nil unless the receivers
// saw the attempts it is about held at once.
func (r *results) inflightRSS(want int) *float64 {
	if r.inflight == nil || r.inflight.peakInFlight < want {
		return nil
	}
	return ptr(r.inflight.workerRSS)
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
	paced := func(f func(serviceRun) float64) *float64 { return of(r.paced, f) }
	result = []figure{
		{"deliveries_per_s", of(r.deliveries, serviceRun.perSecond), 0,
			fmt.Sprintf("saturated, 1 webhook, %d clients: %d deliveries / (first POST → all succeeded in PostgreSQL and received)", sz.clients, sz.events)},
		{"fanout_per_s", of(r.fanout, serviceRun.perSecond), 0,
			fmt.Sprintf("the same with %d webhooks: %d events → %d deliveries", sz.fanoutHooks, sz.fanoutEvents, sz.fanoutEvents*sz.fanoutHooks)},
		{"stored_per_s", of(r.stored, serviceRun.perSecond), 0,
			fmt.Sprintf("deliveries_per_s on a database already holding %d deliveries of the webhook", sz.history)},
		{"naive_per_s", tasksPerSecond(r.naive), 0,
			"baseline: asynq task → signed POST → one INSERT, concurrency 64, in-process"},
		{"noop_per_s", tasksPerSecond(r.noop), 0,
			"baseline: asynq tasks whose handler does nothing, concurrency 64"},
		{"paced_p50_ms", paced(func(s serviceRun) float64 { return ms(s.latency.p50) }), 1,
			fmt.Sprintf("paced %d events/s for %v: median 202 → receipt", sz.pacedRate, sz.pacedDuration)},
		{"paced_p99_ms", paced(p99ms), 1,
			"paced run: 99th percentile 202 → receipt"},
		{"api_p99_ms", paced(func(s serviceRun) float64 { return ms(s.apiP99) }), 1,
			"paced run: 99th percentile POST /v1/events round trip"},
		{"worker_rss_mb", rss, 0,
			"largest peak RSS (VmHWM) of the worker over the service runs, MiB"},
	}
	result = append(result, r.latencyFigures(sz)...)
	context = []figure{
		{"paced_achieved_per_s", paced(func(s serviceRun) float64 { return s.achievedRate }), 0,
			"paced run: events the api accepted per second while sending (target " + fmt.Sprint(sz.pacedRate) + ")"},
		{"paced_drain_s", paced(func(s serviceRun) float64 { return s.drain.Seconds() }), 1,
			fmt.Sprintf("paced run: last delivery's arrival after the last POST (kept up if ≤ %v)", keptUpWithin)},
	}
	for _, s := range []*serviceRun{r.deliveries, r.fanout, r.stored} {
		if s == nil {
			continue
		}
		context = append(context, figure{s.spec.name + "_p99_ms", ptr(ms(s.latency.p99)), 1,
			s.spec.name + " run: 99th percentile 202 → receipt (a saturated queue: mostly waiting)"})
	}
	if r.stored != nil {
		context = append(context, figure{"seed_s", ptr(r.stored.seedTook.Seconds()), 1,
			"time to seed the stored run's history, then vacuum, analyze and checkpoint"})
	}
	return result, append(context, r.latencyContext(sz)...)
}

// latencyFigures are the RESULT fields of the runs against slow, mixed and
// many endpoints, in the line's order.
func (r *results) latencyFigures(sz sizes) []figure {
	waited := "deliveries / (first POST → all succeeded in PostgreSQL and received)"
	figs := []figure{
		{"slow1_per_s", of(r.slow1, serviceRun.perSecond), 0,
			fmt.Sprintf("1 webhook over HTTPS answering in %v, %d/s offered for %v: %s; target ≥ %.0f",
				slowLatency, slow1Rate, sz.slowDuration, waited, 0.95*slow1Rate)},
		{"slow1_p99_ms", of(r.slow1, p99ms), 1,
			"slow1 run: 99th percentile 202 → receipt (the receiver's answer); target ≤ 1000"},
		{"slowfleet_per_s", of(r.slowFleet, serviceRun.perSecond), 0,
			fmt.Sprintf("%d webhooks, each its own HTTPS listener answering in %v, %d/s offered for %v, one worker: %s; target ≥ %.0f",
				fleetHooks, slowLatency, fleetRate, sz.slowDuration, waited, 0.95*fleetRate)},
		{"slowfleet_p99_ms", of(r.slowFleet, p99ms), 1,
			"slowfleet run: 99th percentile 202 → receipt; target ≤ 1000"},
		{"mixed_healthy_p99_ms", of(r.mixed, p99ms), 1,
			fmt.Sprintf("%d webhooks, each its own HTTPS listener answering in log-normal time (median %v, p99 %v, at most %v), %d/s offered for %v; "+
				"3 answer 500, 1 answers 429 (Retry-After: 5), 1 hangs until DELIVERY_TIMEOUT: the %d healthy ones' 99th percentile 202 → receipt; target ≤ 1.5 × mixed_clean_p99_ms",
				fleetHooks, mixedMedian, mixedP99, mixedCap, mixedRate, sz.slowDuration, fleetHooks-len(badEndpoints()))},
		{"mixed_healthy_ratio", of(r.mixed, serviceRun.deliveredRatio), 3,
			"mixed run: healthy deliveries received per second in the steady window (warm-up to last POST) ÷ healthy deliveries offered per second; target ≥ 0.95"},
	}
	for i, w := range scaleWorkers {
		meaning := fmt.Sprintf("the same with %d worker processes; target ≥ %.1f × scale_1w_per_s", w.n, w.target)
		if i == 0 {
			meaning = fmt.Sprintf("%d webhooks, each its own HTTP listener answering in %v, %d/s offered for %v, WORKER_CONCURRENCY=%d, "+
				"DELIVERY_TIMEOUT=%v (so the stop after the window is quick), 1 worker: deliveries received per second from %v after the first POST "+
				"to the end of offering; the backlog is left undelivered", scaleHooks, scaleLatency, scaleRate, sz.scaleDuration, scaleConcurrency, scaleTimeout, sz.warmup)
		}
		figs = append(figs, figure{fmt.Sprintf("scale_%dw_per_s", w.n), steadyPerSecond(r.scale[i]), 0, meaning})
	}
	return append(figs,
		figure{"inflight_rss_mb", r.inflightRSS(sz.inflightWant), 0,
			fmt.Sprintf("peak worker RSS (VmHWM), MiB, with %d attempts in flight: %d events at once to %d HTTPS webhooks answering in %v, "+
				"WORKER_CONCURRENCY=%d; n/a if the receivers never held %d at once (inflight_peak); target ≤ 300",
				sz.inflightWant, sz.burst, inflightHooks, inflightLatency, inflightConcurrency, sz.inflightWant)},
		figure{"tls_handshakes_per_1k", r.tlsPer1k(), 2,
			fmt.Sprintf("new TLS connections the receivers accepted per 1,000 deliveries received, both from %v after the first POST to the end of offering, "+
				"summed over slow1, slowfleet, mixed and mixed_clean; target ≤ 10", sz.warmup)},
	)
}

// latencyContext are the context rows of those runs.
func (r *results) latencyContext(sz sizes) []figure {
	clean := of(r.mixedClean, p99ms)
	figs := []figure{
		{"mixed_clean_p99_ms", clean, 1,
			fmt.Sprintf("mixed_clean run: the same mix with all %d webhooks healthy, 99th percentile 202 → receipt", fleetHooks)},
		{"mixed_p99_vs_clean", ratio(of(r.mixed, p99ms), clean), 2,
			"mixed_healthy_p99_ms ÷ mixed_clean_p99_ms; target ≤ 1.5"},
	}
	one := steadyPerSecond(r.scale[0])
	for i, w := range scaleWorkers[1:] {
		figs = append(figs, figure{fmt.Sprintf("scale_%dw_x", w.n), ratio(steadyPerSecond(r.scale[i+1]), one), 2,
			fmt.Sprintf("scale_%dw_per_s ÷ scale_1w_per_s; target ≥ %.1f", w.n, w.target)})
	}
	figs = append(figs, figure{"inflight_peak", of(r.inflight, func(s serviceRun) float64 { return float64(s.peakInFlight) }), 0,
		fmt.Sprintf("inflight run: the most requests the receivers held at once (wanted: %d)", sz.inflightWant)})
	for _, s := range r.tlsRuns() {
		figs = append(figs, figure{s.spec.name + "_tls_per_1k", ptr(s.window.connsPer1k()), 2,
			s.spec.name + " run: new TLS connections per 1,000 deliveries in the steady window"})
	}
	return figs
}

// printTable prints every figure with its meaning and, last, the RESULT
// line, which is left out unless every figure was measured.
func (r *results) printTable(sz sizes) {
	result, context := r.figures(sz)
	say("")
	say("%-22s %10s  %s", "figure", "value", "what it is")
	var fields, missing []string
	for _, f := range append(result, context...) {
		say("%-22s %10s  %s", f.name, f.format(), f.meaning)
	}
	for _, f := range result {
		if f.value == nil {
			missing = append(missing, f.name)
		}
		fields = append(fields, f.name+"="+f.format())
	}
	say("")
	if len(missing) > 0 {
		say("(no RESULT line: not every run ran or passed; not measured: %s)", strings.Join(missing, " "))
		return
	}
	say("RESULT %s", strings.Join(fields, " "))
}
