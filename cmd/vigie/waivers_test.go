package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/internal/netnstest"
	"github.com/vigie-agent/vigie/internal/reportschema"
	"github.com/vigie-agent/vigie/internal/testenv"
)

// TestWaiverExposedPort: the real binary in a network namespace with no
// firewall, where a service listens on 8080: a waiver for 8080/tcp until
// tomorrow waives the finding and the run exits 0; a second port still
// fails the check; the same waiver dated yesterday fails, naming itself.
func TestWaiverExposedPort(t *testing.T) {
	testenv.Integration(t)
	netnstest.Require(t)
	bin := os.Getenv("VIGIE_BINARY")
	if bin == "" {
		testenv.Missing(t, "needs the vigie binary: set VIGIE_BINARY (make test does)")
	}
	ns := netnstest.New(t)
	ns.Listen(t, "0.0.0.0:8080")
	dir := t.TempDir()
	check := func(expires string) (int, *report.Report) {
		t.Helper()
		cfg := filepath.Join(dir, "vigie.yaml")
		body := fmt.Sprintf(`ssh:
  probe: false
state_dir: %s
waivers_dir: %s
waivers:
  - check: firewall.exposed-services
    subject: 8080/tcp
    reason: staging API, filtered upstream
    accepted_by: alice@example.net
    expires: %s
`, filepath.Join(dir, "state"), filepath.Join(dir, "waivers.d"), expires)
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		argv := append(ns.Prefix(), bin, "check", "--config", cfg, "--only", "firewall.exposed-services", "--json")
		out, err := exec.Command(argv[0], argv[1:]...).Output()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if err := reportschema.Check(out); err != nil {
			t.Errorf("the report with waivers does not match docs/report.schema.json: %v", err)
		}
		var r report.Report
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("exit %d, output %s: %v", code, out, err)
		}
		return code, &r
	}
	find := func(r *report.Report, id string) checks.Finding {
		for _, f := range r.Findings {
			if f.ID == id {
				return f
			}
		}
		t.Fatalf("no %s in %+v", id, r.Findings)
		return checks.Finding{}
	}
	day := func(d int) string { return time.Now().UTC().AddDate(0, 0, d).Format("2006-01-02") }

	code, r := check(day(1))
	f := find(r, "firewall.exposed-services")
	if code != 0 || f.Status != checks.Fail || len(f.Waived) != 1 || f.Waived[0].AcceptedBy != "alice@example.net" || r.Summary.Waived != 1 || r.Summary.Fail != 0 {
		t.Fatalf("one waived port: exit %d, %+v, summary %+v", code, f, r.Summary)
	}
	if w := find(r, "vigie.waivers"); w.Status != checks.Pass {
		t.Errorf("waivers in force: %+v", w)
	}

	ns.Listen(t, "0.0.0.0:9090")
	code, r = check(day(1))
	if f := find(r, "firewall.exposed-services"); code != 1 || f.Status != checks.Fail || len(f.Waived) != 0 || !strings.Contains(f.Reason, "9090") {
		t.Fatalf("a second port: exit %d, %+v", code, f)
	}

	code, r = check(day(-1))
	w := find(r, "vigie.waivers")
	if code != 1 || w.Status != checks.Fail || !strings.Contains(w.Reason, "firewall.exposed-services 8080/tcp expired "+day(-1)) {
		t.Fatalf("expired waiver: exit %d, %+v", code, w)
	}
	if f := find(r, "firewall.exposed-services"); len(f.Waived) != 0 {
		t.Errorf("an expired waiver still waives: %+v", f)
	}
}
