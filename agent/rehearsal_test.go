package agent_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/vigie-agent/vigie/agent"
	"github.com/vigie-agent/vigie/agent/config"
	"github.com/vigie-agent/vigie/agent/otlp"
	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/agent/sinks"
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/internal/otelcoltest"
	"github.com/vigie-agent/vigie/internal/testenv"
)

// fleetAgent is one host of the rehearsal: the real service loop, the real
// sinks, spools and OTLP sender, a state directory of its own, and a report
// captured on a real host (agent/testdata) under a distinct identity, one
// check flipping each cycle so that every cycle has a change to send.
type fleetAgent struct {
	n        int
	stateDir string
	cfg      config.Config
	template report.Report

	mu       sync.Mutex
	stopped  bool // the rehearsal is over: no new request
	cycles   int
	prev     *report.Report
	expected map[string]int       // report id -> log records it must give
	points   map[int64]bool       // report start (unix nanos) -> sent metrics
	queued   map[string]time.Time // spooled entry ("signal/id") -> when
	done     map[string]time.Time // delivered entry -> when the spool lost it
	wire     int64                // bytes of the requests, as encoded
	fullWire int64                // of those, the full reports'
	fulls    int
}

func (a *fleetAgent) report() *report.Report {
	r := a.template
	r.ID = report.NewID()
	r.StartedAt = time.Now()
	r.Host.Hostname = fmt.Sprintf("fleet-%04d", a.n)
	r.Host.MachineID = fmt.Sprintf("%032x", a.n+1)
	r.Host.Cloud = &report.Cloud{Provider: "scaleway", ServerID: fmt.Sprintf("00000000-0000-4000-8000-%012d", a.n), Zone: "fr-par-2", CommercialType: "PRO2-XS"}
	r.Findings = slices.Clone(a.template.Findings)
	f := &r.Findings[a.cycles%len(r.Findings)]
	if f.Status == checks.Fail {
		f.Status, f.Reason = checks.Pass, "rehearsal: fixed"
	} else {
		f.Status, f.Reason = checks.Fail, "rehearsal: broken"
	}
	r.Summary = report.Summarize(r.Findings)
	return &r
}

// observe notes which spooled entries are gone since the last look: those
// were delivered (nothing is rejected or dropped in the rehearsal, which
// checks that too).
func (a *fleetAgent) observe() {
	now := time.Now()
	present := map[string]bool{}
	for _, s := range []otlp.Signal{otlp.SignalLogs, otlp.SignalMetrics} {
		des, _ := os.ReadDir(sinks.OTLPSpoolDir(a.stateDir, s, a.cfg.Report.OTLP))
		for _, de := range des {
			name := strings.TrimSuffix(de.Name(), ".json.gz")
			if i := strings.LastIndexByte(name, '-'); i > 0 && de.Type().IsRegular() {
				present[string(s)+"/"+name[i+1:]] = true
			}
		}
	}
	for k := range a.queued {
		if _, done := a.done[k]; !done && !present[k] {
			a.done[k] = now
		}
	}
}

func (a *fleetAgent) cycle(ctx context.Context, cfg config.Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return nil
	}
	rep := a.report()
	full := a.cycles == 0
	a.cycles++
	changes := report.Changes(a.prev, rep)
	a.prev = rep
	res, err := sinks.Deliver(ctx, cfg.Report, a.stateDir, "vigie/rehearsal", rep, func(string) {}, sinks.Options{Full: full})
	records := res.Changes
	if res.Full {
		records = len(rep.Findings)
	}
	a.expected[rep.ID] = records
	a.points[rep.StartedAt.UnixNano()] = true
	a.queued["metrics/"+rep.ID] = rep.StartedAt
	if records > 0 {
		a.queued["logs/"+rep.ID] = rep.StartedAt
	}
	n := wireSize(rep, res, changes)
	a.wire += n
	if res.Full {
		a.fullWire += n
		a.fulls++
	}
	a.observe()
	if err != nil && !strings.Contains(err.Error(), "waiting in the spool") {
		return err
	}
	return nil
}

func (a *fleetAgent) flush(ctx context.Context, cfg config.Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return nil
	}
	err := agent.Flush(ctx, cfg, nopWriter{})
	a.observe()
	return err
}

type nopWriter struct{}

func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }

// wireSize is what the report's two requests weigh, encoded and
// compressed as the sender sends them (HTTP headers aside).
func wireSize(rep *report.Report, res sinks.Outcome, changes []report.Change) int64 {
	size := func(m proto.Message) int64 {
		pb, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(pb)
		_ = zw.Close()
		return int64(buf.Len())
	}
	n := size(otlp.Metrics(rep))
	if res.Full {
		n += size(otlp.Logs(&otlp.Batch{Kind: otlp.KindFull, Report: rep}))
	} else if res.Changes > 0 {
		n += size(otlp.Logs(&otlp.Batch{Kind: otlp.KindChanges, Report: rep, Changes: changes}))
	}
	return n
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(float64(len(ds)-1) * p)
	return ds[i]
}

// TestFleetRehearsal: a fleet reports to a real OpenTelemetry Collector
// through an outage of it. Every report must reach the collector's output
// exactly once, and the spools must be empty at the end. It prints the
// figures the README quotes. VIGIE_REHEARSAL_AGENTS (1000) and
// VIGIE_REHEARSAL_OUTAGE (seconds, 60) resize it.
func TestFleetRehearsal(t *testing.T) {
	testenv.Integration(t)
	if os.Getenv("VIGIE_REHEARSAL") != "1" {
		t.Skip("the fleet rehearsal runs alone, after the suite: make rehearsal (make test runs it)")
	}
	agents := envInt("VIGIE_REHEARSAL_AGENTS", 1000)
	outage := time.Duration(envInt("VIGIE_REHEARSAL_OUTAGE", 60)) * time.Second
	col := otelcoltest.Start(t)

	b, err := os.ReadFile("testdata/report-debian12.json")
	if err != nil {
		t.Fatal(err)
	}
	var template report.Report
	if err := json.Unmarshal(b, &template); err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.Run.Interval, cfg.Run.Jitter, cfg.Run.CycleTimeout = 20*time.Second, 10*time.Second, 2*time.Minute
	cfg.Report.Journal = false
	cfg.Report.OTLP.Endpoint = col.Endpoint()
	cfg.Report.OTLP.Timeout = 10 * time.Second

	root := t.TempDir()
	fleet := make([]*fleetAgent, agents)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	start := time.Now()
	for i := range fleet {
		a := &fleetAgent{n: i, stateDir: filepath.Join(root, strconv.Itoa(i)), template: template,
			expected: map[string]int{}, points: map[int64]bool{}, queued: map[string]time.Time{}, done: map[string]time.Time{}}
		a.cfg = cfg
		a.cfg.StateDir = a.stateDir
		if err := os.MkdirAll(a.stateDir, 0o700); err != nil {
			t.Fatal(err)
		}
		fleet[i] = a
		svc := &agent.Service{
			Load:    func() (config.Config, error) { return a.cfg, nil },
			Cycle:   a.cycle,
			Pending: agent.Pending,
			Flush:   a.flush,
			Notify:  func(string) error { return nil },
		}
		// A fleet booted over ten seconds, not in one instant.
		delay := time.Duration(i) * 10 * time.Second / time.Duration(agents)
		wg.Go(func() {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return
			}
			_ = svc.Run(ctx)
		})
	}

	// Steady state, then the collector is down for the outage, then back.
	time.Sleep(30 * time.Second)
	col.Stop()
	down := time.Now()
	time.Sleep(outage)
	col.Restart()
	back := time.Now()
	t.Logf("collector down from %s to %s", down.Sub(start).Round(time.Second), back.Sub(start).Round(time.Second))
	time.Sleep(40 * time.Second)
	// The fleet stops between requests, never in one: a request cut off
	// after the collector took it would be sent again.
	for _, a := range fleet {
		a.mu.Lock()
		a.stopped = true
		a.mu.Unlock()
	}
	stop()
	wg.Wait()

	// What the last cycles left: delivered by the same flush the service
	// runs between cycles, until every spool is empty.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		waiting := 0
		for _, a := range fleet {
			if agent.Pending(a.cfg) {
				waiting++
				_ = agent.Flush(context.Background(), a.cfg, nopWriter{})
				a.mu.Lock()
				a.observe()
				a.mu.Unlock()
			}
		}
		if waiting == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d agents still have reports spooled 3 minutes after the fleet stopped", waiting)
		}
		time.Sleep(time.Second)
	}
	cpu := col.CPU()
	col.Stop()

	// Exactly once: every report id's log records, every report's metric
	// points, no more, no less.
	gotRecords := map[string]int{}
	for _, rl := range col.Logs() {
		for _, sl := range rl.ScopeLogs {
			for _, lr := range sl.LogRecords {
				gotRecords[otelcoltest.Attr(lr.Attributes, otlp.AttrReportID).GetStringValue()]++
			}
		}
	}
	gotPoints := map[string]int{}
	for _, rm := range col.Metrics() {
		host := otelcoltest.Attr(rm.Resource.Attributes, "host.id").GetStringValue()
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name == otlp.MetricDuration {
					for _, p := range m.GetGauge().DataPoints {
						gotPoints[host+"@"+strconv.FormatUint(p.TimeUnixNano, 10)]++
					}
				}
			}
		}
	}
	var (
		reports, records, lost, dup int
		wire, fullWire              int64
		fulls                       int
		delays                      []time.Duration
		afterBack                   []time.Time
	)
	for _, a := range fleet {
		for id, n := range a.expected {
			reports++
			records += n
			switch got := gotRecords[id]; {
			case got < n:
				lost++
			case got > n:
				dup++
			}
			delete(gotRecords, id)
		}
		for ts := range a.points {
			key := fmt.Sprintf("00000000-0000-4000-8000-%012d@%d", a.n, ts)
			switch gotPoints[key] {
			case 0:
				lost++
			case 1:
			default:
				dup++
			}
			delete(gotPoints, key)
		}
		wire += a.wire
		fullWire += a.fullWire
		fulls += a.fulls
		for k, q := range a.queued {
			d, ok := a.done[k]
			if !ok {
				t.Errorf("agent %d: %s never left the spool", a.n, k)
				continue
			}
			if q.Before(back) && d.After(back) {
				delays = append(delays, d.Sub(back))
			}
			if d.After(back) {
				afterBack = append(afterBack, d)
			}
		}
	}
	if lost > 0 || dup > 0 || len(gotRecords) > 0 || len(gotPoints) > 0 {
		t.Errorf("%d reports lost, %d duplicated, %d record ids and %d metric points the fleet never sent", lost, dup, len(gotRecords), len(gotPoints))
	}
	// Deliveries per second in the minute after the collector came back.
	slices.SortFunc(afterBack, func(a, b time.Time) int { return a.Compare(b) })
	peak := 0
	for i := range afterBack {
		j := i
		for j < len(afterBack) && afterBack[j].Sub(afterBack[i]) < time.Second {
			j++
		}
		peak = max(peak, j-i)
	}
	t.Logf("%d agents, %d reports (%d log records, %d metric requests) in %s; every one in the collector's output exactly once; spools empty",
		agents, reports, records, reports, time.Since(start).Round(time.Second))
	t.Logf("on the wire (logs and metrics, protobuf, gzip; HTTP headers aside): %d bytes per report on average; %d per full report (%d), %d per changes report",
		wire/int64(max(reports, 1)), fullWire/int64(max(fulls, 1)), fulls, (wire-fullWire)/int64(max(reports-fulls, 1)))
	if len(afterBack) > 1 {
		span := afterBack[len(afterBack)-1].Sub(back).Seconds()
		t.Logf("after the collector came back: %.0f requests/s and %.0f KB/s on average over %.0f s",
			float64(len(afterBack))/span, float64(wire)/float64(2*max(reports, 1))*float64(len(afterBack))/span/1000, span)
	}
	t.Logf("after the collector came back: %d requests delivered, peak %d per second; delay of the reports spooled during the outage: p50 %s, p99 %s, max %s (%d reports)",
		len(afterBack), peak, percentile(delays, 0.5).Round(time.Millisecond), percentile(delays, 0.99).Round(time.Millisecond),
		percentile(delays, 1).Round(time.Millisecond), len(delays))
	t.Logf("collector CPU: %s for %d reports, %.0f ms per 1,000 reports", cpu.Round(time.Millisecond), reports,
		float64(cpu.Milliseconds())*1000/float64(max(reports, 1)))
}
