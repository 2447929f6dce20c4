package agent

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/agent/config"
	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/internal/reportschema"
)

// TestReportMatchesSchema runs the real checks on this machine and
// validates the JSON they produce.
func TestReportMatchesSchema(t *testing.T) {
	cfg := config.Defaults()
	r, err := NewRun(cfg, host.DefaultEnv())
	if err != nil {
		t.Fatal(err)
	}
	cat := r.Catalogue
	rep, err := Check(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := (report.JSON{Indent: true}).Format(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if err := reportschema.Check(buf.Bytes()); err != nil {
		t.Fatalf("report does not match the schema: %v\n%s", err, buf.String())
	}
	n := 0
	for _, id := range cat.IDs() {
		m, _ := cat.Lookup(id)
		if _, in := checks.Profiles[cfg.Profile].Apply(m); in {
			n++
		}
	}
	if rep.Summary.Total != n {
		t.Errorf("summary counts %d findings, the profile has %d checks", rep.Summary.Total, n)
	}
}

// TestNoGoroutineOutlivesCheck runs the real checks on this machine, with
// a deadline short enough that some areas overrun it, and holds the
// process to the goroutines it had before: nothing keeps reading or
// waiting behind the report.
func TestNoGoroutineOutlivesCheck(t *testing.T) {
	for _, timeout := range []time.Duration{10 * time.Second, 30 * time.Millisecond} {
		cfg := config.Defaults()
		cfg.Timeout = timeout
		r, err := NewRun(cfg, host.DefaultEnv())
		if err != nil {
			t.Fatal(err)
		}
		before := runtime.NumGoroutine()
		rep, err := Check(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		overran := 0
		for _, f := range rep.Findings {
			if strings.Contains(f.Reason, "did not finish") {
				overran++
			}
		}
		if timeout < time.Second && overran == 0 {
			t.Fatalf("timeout %s: no area overran it, so nothing was stopped", timeout)
		}
		deadline := time.Now().Add(3 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			t.Fatalf("timeout %s: %d goroutines before the check, %d after:\n%s", timeout, before, n, buf[:runtime.Stack(buf, true)])
		}
	}
}
