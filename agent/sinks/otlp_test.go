package sinks

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/agent/otlp"
	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/agent/report/reporttest"
	"github.com/vigie-agent/vigie/agent/spool"
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/internal/otelcoltest"
	"github.com/vigie-agent/vigie/internal/testenv"
)

// TestDeliverOTLP: against the real collector, with TLS and a token
// header read from a file: the first report whole, then only what
// changed, nothing but metrics when nothing did; through an outage the
// requests wait in their spools and Flush delivers them, once.
func TestDeliverOTLP(t *testing.T) {
	certFile, keyFile, _ := otelcoltest.SelfSignedCert(t)
	col := otelcoltest.Start(t, otelcoltest.WithTLS(certFile, keyFile), otelcoltest.WithHeader("Authorization", "Bearer s3cret"))
	stateDir := t.TempDir()
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("Bearer s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Journal = false
	cfg.OTLP.Endpoint = col.Endpoint()
	cfg.OTLP.CAFile = certFile
	cfg.OTLP.HeaderFiles = map[string]string{"Authorization": token} // a header value has spaces
	cfg.OTLP.Timeout = 5 * time.Second
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	n := 0
	deliver := func(change func(r *report.Report), opt Options) (*report.Report, Outcome) {
		t.Helper()
		r := reporttest.Sample()
		r.ID = report.NewID()
		r.StartedAt = start.Add(time.Duration(n) * time.Hour)
		n++
		change(r)
		r.Summary = report.Summarize(r.Findings)
		res, err := Deliver(ctx, cfg, stateDir, "vigie/test", r, func(string) {}, opt)
		if err != nil && res.OTLPWaiting == 0 {
			t.Fatalf("deliver: %v", err)
		}
		return r, res
	}
	same := func(*report.Report) {}
	fixed := func(r *report.Report) { r.Findings[0].Status = checks.Pass }

	r1, res := deliver(same, Options{})
	if !res.Full || res.OTLPDelivered != 2 || res.OTLPWaiting != 0 {
		t.Fatalf("first report: %+v", res)
	}
	r2, res := deliver(fixed, Options{})
	if res.Full || res.Changes != 1 || res.OTLPDelivered != 2 {
		t.Fatalf("second report: %+v", res)
	}
	r3, res := deliver(fixed, Options{})
	if res.Changes != 0 || res.OTLPDelivered != 1 {
		t.Fatalf("third report, nothing changed: %+v", res)
	}
	col.Stop()
	// A cycle's deadline: the sender does not wait for a retry past it.
	var cancel context.CancelFunc
	ctx, cancel = context.WithTimeout(ctx, 2*time.Second)
	r4, res := deliver(same, Options{}) // password auth back on, the collector down
	cancel()
	ctx = context.Background()
	if res.OTLPWaiting != 2 || !Pending(cfg, stateDir) {
		t.Fatalf("during the outage: %+v", res)
	}
	col.Restart()
	if res, err := Flush(ctx, cfg, stateDir, "vigie/test", func(string) {}); err != nil || res.OTLPDelivered != 2 || Pending(cfg, stateDir) {
		t.Fatalf("flush: %+v %v", res, err)
	}
	col.WaitLogs(4 + 1 + 1)
	col.WaitMetrics(4 * 12)
	col.Stop()

	records := map[string][]string{}
	for _, rl := range col.Logs() {
		for _, sl := range rl.ScopeLogs {
			for _, lr := range sl.LogRecords {
				id := otelcoltest.Attr(lr.Attributes, otlp.AttrReportID).GetStringValue()
				records[id] = append(records[id], otelcoltest.Attr(lr.Attributes, otlp.AttrCheckID).GetStringValue()+" "+
					otelcoltest.Attr(lr.Attributes, otlp.AttrChange).GetStringValue())
			}
		}
	}
	want := map[string]int{r1.ID: 4, r2.ID: 1, r3.ID: 0, r4.ID: 1}
	for id, n := range want {
		if len(records[id]) != n {
			t.Errorf("report %s: records %v, want %d", id, records[id], n)
		}
	}
	if got := records[r2.ID]; len(got) == 1 && got[0] != "ssh.password-auth resolved" {
		t.Errorf("second report: %v", got)
	}
	if got := records[r4.ID]; len(got) == 1 && got[0] != "ssh.password-auth failing" {
		t.Errorf("fourth report: %v", got)
	}
	if pts := otelcoltest.CountDataPoints(col.Metrics()); pts != 4*12 {
		t.Errorf("%d metric points, want 12 for each of the 4 reports", pts)
	}
}

// TestChangesNeverLost: a changes batch the logs queue dropped (it holds
// one report here, the collector is down) makes the next batch whole, with
// the count of what was dropped; a last full report dated in the future
// (the clock was set back) does not hold full reports off.
func TestChangesNeverLost(t *testing.T) {
	stateDir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Journal = false
	cfg.OTLP.Endpoint = "http://127.0.0.1:1" // nothing listens
	cfg.OTLP.MetricsURL = ""
	cfg.Spool.MaxReports = 1
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	n := 0
	deliver := func(change func(*report.Report)) Outcome {
		t.Helper()
		r := reporttest.Sample()
		r.ID = report.NewID()
		r.StartedAt = start.Add(time.Duration(n) * time.Hour)
		n++
		change(r)
		r.Summary = report.Summarize(r.Findings)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		res, _ := Deliver(ctx, cfg, stateDir, "vigie/test", r, func(string) {}, Options{})
		return res
	}
	spooled := func() otlp.Batch {
		t.Helper()
		dir := OTLPSpoolDir(stateDir, otlp.SignalLogs, cfg.OTLP)
		sp, err := spool.Open(dir, 10, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		es, _ := sp.Pending()
		if len(es) != 1 {
			t.Fatalf("%d batches spooled", len(es))
		}
		gz, err := sp.Read(es[0])
		if err != nil {
			t.Fatal(err)
		}
		zr, _ := gzip.NewReader(bytes.NewReader(gz))
		var b otlp.Batch
		if err := json.NewDecoder(zr).Decode(&b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	if res := deliver(func(*report.Report) {}); !res.Full {
		t.Fatalf("first: %+v", res)
	}
	deliver(func(r *report.Report) { r.Findings[0].Status = checks.Pass }) // drops the full batch
	if b := spooled(); b.Kind != otlp.KindChanges {
		t.Fatalf("second: %s", b.Kind)
	}
	deliver(func(r *report.Report) { r.Findings[0].Status = checks.Pass }) // no change, but the queue dropped one
	if b := spooled(); b.Kind != otlp.KindFull || b.Report.Delivery == nil || b.Report.Delivery.DroppedReports != 1 {
		t.Fatalf("after a drop: %s %+v", b.Kind, b.Report.Delivery)
	}

	future := filepath.Join(stateDir, lastFullFile)
	if err := os.WriteFile(future, []byte(strconv.FormatInt(start.Add(1000*time.Hour).Unix(), 10)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if res := deliver(func(*report.Report) {}); !res.Full {
		t.Errorf("a last full report in the future held this one back: %+v", res)
	}
}

// TestMetricsOfWaived: the metrics queue keeps what a waiver covers, so
// an accepted risk is no failing check in the gauge.
func TestMetricsOfWaived(t *testing.T) {
	r := reporttest.Sample()
	r.Findings[0].Waived = []checks.Waiver{{Check: r.Findings[0].ID, Reason: "r", AcceptedBy: "a", Expires: "2026-12-31"}}
	r.Summary = report.Summarize(r.Findings)
	b, _ := json.Marshal(metricsOnly(r))
	var back report.Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, m := range otlp.Metrics(&back).ResourceMetrics[0].ScopeMetrics[0].Metrics {
		if m.Name != otlp.MetricFailing {
			continue
		}
		for _, p := range m.GetGauge().DataPoints {
			if sev := otelcoltest.Attr(p.Attributes, otlp.AttrSeverity).GetStringValue(); sev == "high" && p.GetAsInt() != 0 {
				t.Errorf("a waived high failure counts as failing: %d", p.GetAsInt())
			}
		}
	}
}

// TestStaleOTLPSpools: a destination's spool is keyed by its URL and its
// headers whatever their case; once the configuration names another
// tenant, what waited for the old one is counted in the textfile's
// vigie_spool_reports and named by the cycle, each time, rather than
// forgotten.
func TestStaleOTLPSpools(t *testing.T) {
	stateDir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Journal = false
	cfg.OTLP.Endpoint = "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) // nothing listens
	cfg.OTLP.Headers = map[string]string{"X-Scope-OrgID": "team-a"}
	cfg.OTLP.Timeout = time.Second
	cfg.Textfile = filepath.Join(t.TempDir(), "vigie.prom")
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	lower := cfg.OTLP
	lower.Headers = map[string]string{"x-scope-orgid": "team-a"}
	other := cfg.OTLP
	other.Headers = map[string]string{"X-Scope-OrgID": "team-b"}
	if a, b := OTLPSpoolDir(stateDir, otlp.SignalLogs, cfg.OTLP), OTLPSpoolDir(stateDir, otlp.SignalLogs, lower); a != b {
		t.Errorf("a header's case makes another destination: %s, %s", a, b)
	}
	if a, b := OTLPSpoolDir(stateDir, otlp.SignalLogs, cfg.OTLP), OTLPSpoolDir(stateDir, otlp.SignalLogs, other); a == b {
		t.Errorf("another tenant, the same spool: %s", a)
	}
	deliver := func(cfg Config) (Outcome, []string) {
		t.Helper()
		r := reporttest.Sample()
		r.ID = report.NewID()
		r.Summary = report.Summarize(r.Findings)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		var logs []string
		res, _ := Deliver(ctx, cfg, stateDir, "vigie/test", r, func(s string) { logs = append(logs, s) }, Options{})
		return res, logs
	}
	if res, logs := deliver(cfg); res.OTLPWaiting != 2 || strings.Contains(strings.Join(logs, "\n"), "no longer configured") {
		t.Fatalf("the collector down: %+v %q", res, logs)
	}
	cfg.OTLP = other
	_, logs := deliver(cfg)
	if n, dirs := staleOTLPSpools(cfg, stateDir); n != 2 || len(dirs) != 2 || !strings.Contains(strings.Join(logs, "\n"), "otlp: 2 report(s) wait for a destination no longer configured, in "+dirs[0]) {
		t.Errorf("stale: %d in %v; the cycle said %q", n, dirs, logs)
	}
	prom, err := os.ReadFile(cfg.Textfile)
	if err != nil {
		t.Fatal(err)
	}
	// The new tenant's metrics wait too (nothing changed: no logs): 3 in
	// all.
	if !strings.Contains(string(prom), "\nvigie_spool_reports 3\n") {
		t.Errorf("the textfile does not count the stale spools:\n%s", prom)
	}
	cfg.OTLP.Endpoint = "" // OTLP off: every spool of it is stale
	if n, _ := staleOTLPSpools(cfg, stateDir); n != 3 {
		t.Errorf("OTLP off: %d stale, want 3", n)
	}
}
