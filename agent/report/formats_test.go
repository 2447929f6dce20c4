package report_test

import (
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/agent/report"
)

// TestNewOutput: every format help names is made with the options given,
// and an unknown one is refused, naming them all.
func TestNewOutput(t *testing.T) {
	want := map[string]report.Output{"table": report.Table{Color: true, Verbose: true}, "json": report.JSON{Indent: true}, "sarif": report.SARIF{}, "junit": report.JUnit{}}
	if len(report.FormatNames) != len(want) || report.FormatNames[0] != "table" {
		t.Errorf("formats %v", report.FormatNames)
	}
	for _, name := range report.FormatNames {
		o, err := report.NewOutput(name, report.Options{Color: true, Verbose: true})
		if err != nil || o != want[name] {
			t.Errorf("%s: %#v, %v", name, o, err)
		}
	}
	if _, err := report.NewOutput("xml", report.Options{}); err == nil || !strings.Contains(err.Error(), "table, json, sarif, junit") {
		t.Errorf("unknown format: %v", err)
	}
}
