package sinks

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/agent/otlp"
	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/agent/report/reporttest"
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/internal/otelcoltest"
)

// TestDeliverOTLP: against the real collector, with TLS and a token
// header read from a file: the first report whole, then only what
// changed, nothing but metrics when nothing did; through an outage the
// requests wait in their spools and Flush delivers them, once.
func TestDeliverOTLP(t *testing.T) {
	certFile, keyFile, _ := otelcoltest.SelfSignedCert(t)
	col := otelcoltest.Start(t, otelcoltest.WithTLS(certFile, keyFile), otelcoltest.WithHeader("X-Token", "s3cret"))
	stateDir := t.TempDir()
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Journal = false
	cfg.OTLP.Endpoint = col.Endpoint()
	cfg.OTLP.CAFile = certFile
	cfg.OTLP.HeaderFiles = map[string]string{"X-Token": token}
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
