package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/agent/report/reporttest"
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/internal/reportschema"
	"github.com/vigie-agent/vigie/internal/testenv"
)

// waivedReport is the sample with its failing check waived.
func waivedReport() *report.Report {
	r := reporttest.Sample()
	r.Findings[0].Waived = []checks.Waiver{{Check: r.Findings[0].ID, Reason: "bastion {x}", AcceptedBy: "alice", Expires: "2026-12-31"}}
	r.Summary = report.Summarize(r.Findings)
	return r
}

// TestFormatsWaived: an accepted risk is a suppressed result in SARIF
// (code scanning shows it dismissed, with who and until when), and a
// skipped test case in JUnit, both still valid against their schemas.
func TestFormatsWaived(t *testing.T) {
	r := waivedReport()
	var buf bytes.Buffer
	if err := (report.SARIF{}).Format(&buf, r); err != nil {
		t.Fatal(err)
	}
	if err := reportschema.CheckSARIF(buf.Bytes()); err != nil {
		t.Errorf("SARIF with a suppression: %v", err)
	}
	var log struct {
		Runs []struct {
			Results []struct {
				RuleID       string
				Suppressions []struct{ Kind, Status, Justification string }
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, res := range log.Runs[0].Results {
		if res.RuleID == "ssh.password-auth" {
			found = true
			if len(res.Suppressions) != 1 || res.Suppressions[0].Status != "accepted" || !strings.Contains(res.Suppressions[0].Justification, "accepted by alice until 2026-12-31") {
				t.Errorf("suppressions %+v", res.Suppressions)
			}
		} else if len(res.Suppressions) != 0 {
			t.Errorf("%s suppressed", res.RuleID)
		}
	}
	if !found {
		t.Error("the waived finding is no result: code scanning would close its alert instead of dismissing it")
	}

	buf.Reset()
	if err := (report.JUnit{}).Format(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "waived: bastion {x}, accepted by alice until 2026-12-31") || strings.Contains(out, `<failure message="passwordauthentication`) {
		t.Errorf("JUnit of a waived finding:\n%s", out)
	}
	testenv.Integration(t)
	testenv.Commands(t, "libxml2-utils", "xmllint")
	if err := reportschema.CheckJUnit(buf.Bytes()); err != nil {
		t.Errorf("JUnit with a waived case: %v", err)
	}
}
