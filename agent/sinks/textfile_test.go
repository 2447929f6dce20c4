package sinks

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/agent/report/reporttest"
	"github.com/vigie-agent/vigie/checks"
)

// fixture reads a report `vigie check --json --profile PROFILE` wrote on a
// Debian 12 instance (testdata/report-PROFILE.json).
func fixture(t testing.TB, profile string) *report.Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "report-"+profile+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var r report.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("testdata/report-%s.json: %v", profile, err)
	}
	return &r
}

// textfileSeries parses a textfile as node_exporter does and names each
// series name{label="value",...}, labels sorted.
func textfileSeries(t testing.TB, path string) map[string]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("node_exporter would not read %s: %v", path, err)
	}
	out := map[string]float64{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+`"`+l.GetValue()+`"`)
			}
			sort.Strings(ls)
			out[name+"{"+strings.Join(ls, ",")+"}"] = m.GetGauge().GetValue()
		}
	}
	return out
}

// fixedSeries are the series every mode writes, whatever the report (the
// last delivery's timestamp aside, written once something was delivered).
var fixedSeries = []string{
	`vigie_checks_failing{severity="critical"}`, `vigie_checks_failing{severity="high"}`, `vigie_checks_failing{severity="info"}`,
	`vigie_checks_failing{severity="low"}`, `vigie_checks_failing{severity="medium"}`,
	`vigie_last_run_duration_seconds{}`, `vigie_last_run_timestamp_seconds{}`,
	`vigie_spool_bytes{}`, `vigie_spool_dropped_reports{}`, `vigie_spool_reports{}`,
}

// TestTextfileSeriesModes: each mode writes the fixed series, vigie_info,
// and the per-check series it promises, no other; from the sample report
// (one finding of each status) and from real reports of both profiles.
func TestTextfileSeriesModes(t *testing.T) {
	failing := func(s checks.Status) bool { return s == checks.Fail || s == checks.Error }
	reports := map[string]*report.Report{"sample": reporttest.Sample(), "baseline": fixture(t, "baseline"), "hds": fixture(t, "hds")}
	tests := []struct {
		report   string
		mode     TextfileSeries
		perCheck func(checks.Status) bool // which findings get a vigie_check_status series
		want     int                      // series in the file
	}{
		{"sample", SeriesAll, func(checks.Status) bool { return true }, 4 + 11},
		{"sample", SeriesFailing, failing, 2 + 11},
		{"sample", SeriesSummary, func(checks.Status) bool { return false }, 11},
		// 30 checks, 14 failing, on this instance.
		{"baseline", SeriesAll, func(checks.Status) bool { return true }, 30 + 11},
		{"baseline", SeriesFailing, failing, 14 + 11},
		{"baseline", SeriesSummary, func(checks.Status) bool { return false }, 11},
		// 32 checks, 14 failing.
		{"hds", SeriesAll, func(checks.Status) bool { return true }, 32 + 11},
		{"hds", SeriesFailing, failing, 14 + 11},
		{"hds", SeriesSummary, func(checks.Status) bool { return false }, 11},
	}
	for _, tt := range tests {
		t.Run(tt.report+"/"+string(tt.mode), func(t *testing.T) {
			r := reports[tt.report]
			path := filepath.Join(t.TempDir(), "vigie.prom")
			if err := WriteTextfile(path, r, SpoolState{}, tt.mode); err != nil {
				t.Fatal(err)
			}
			got := textfileSeries(t, path)
			want := slices.Clone(fixedSeries)
			want = append(want, `vigie_info{profile="`+r.Profile+`",version="`+r.Agent.Version+`"}`)
			for _, f := range r.Findings {
				if tt.perCheck(f.Status) {
					want = append(want, `vigie_check_status{area="`+f.Area()+`",check="`+f.ID+`",severity="`+f.Severity.String()+`",status="`+string(f.Status)+`"}`)
				}
			}
			for _, s := range want {
				if _, ok := got[s]; !ok {
					t.Errorf("missing %s", s)
				}
			}
			for s := range got {
				if !slices.Contains(want, s) {
					t.Errorf("unexpected %s", s)
				}
			}
			if len(got) != tt.want || len(want) != tt.want {
				t.Errorf("%d series (%d expected from the report), want %d", len(got), len(want), tt.want)
			}
			var fails float64
			for _, sev := range []string{"info", "low", "medium", "high", "critical"} {
				fails += got[`vigie_checks_failing{severity="`+sev+`"}`]
			}
			if int(fails) != r.Summary.Fail+r.Summary.Error {
				t.Errorf("vigie_checks_failing sums to %v, the report has %d failing", fails, r.Summary.Fail+r.Summary.Error)
			}
		})
	}
}

// TestTextfileResolvedCheck: a check that passes again leaves the file
// under failing, so its series ends and its alert resolves; under all it
// stays with its new status, once.
func TestTextfileResolvedCheck(t *testing.T) {
	const fail = `vigie_check_status{area="ssh",check="ssh.password-auth",severity="high",status="fail"}`
	const pass = `vigie_check_status{area="ssh",check="ssh.password-auth",severity="high",status="pass"}`
	for _, tt := range []struct {
		mode       TextfileSeries
		afterwards []string
	}{
		{SeriesAll, []string{pass}},
		{SeriesFailing, nil},
		{SeriesSummary, nil},
	} {
		path := filepath.Join(t.TempDir(), "vigie.prom")
		r := reporttest.Sample()
		if err := WriteTextfile(path, r, SpoolState{}, tt.mode); err != nil {
			t.Fatal(err)
		}
		if _, ok := textfileSeries(t, path)[fail]; ok != (tt.mode != SeriesSummary) {
			t.Errorf("%s: the failing check has a series: %v", tt.mode, ok)
		}
		r.Findings[0].Status = checks.Pass
		if err := WriteTextfile(path, r, SpoolState{}, tt.mode); err != nil {
			t.Fatal(err)
		}
		var got []string
		for s := range textfileSeries(t, path) {
			if strings.Contains(s, `check="ssh.password-auth"`) {
				got = append(got, s)
			}
		}
		if !slices.Equal(got, tt.afterwards) {
			t.Errorf("%s: once it passes, the check's series are %v, want %v", tt.mode, got, tt.afterwards)
		}
	}
}

// TestTextfileUnknownMode: a mode the configuration would refuse writes
// nothing.
func TestTextfileUnknownMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigie.prom")
	for _, mode := range []TextfileSeries{"", "some"} {
		if err := WriteTextfile(path, reporttest.Sample(), SpoolState{}, mode); err == nil || !strings.Contains(err.Error(), `"`+string(mode)+`"`) {
			t.Errorf("mode %q: err = %v", mode, err)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a file was written: %v", err)
	}
}

// TestConfigTextfileSeries: the section refuses a mode by its key, naming
// the modes it knows.
func TestConfigTextfileSeries(t *testing.T) {
	c := DefaultConfig()
	if c.TextfileSeries != "all" || c.Validate() != nil {
		t.Fatalf("default %q: %v", c.TextfileSeries, c.Validate())
	}
	for _, m := range TextfileSeriesModes {
		c.TextfileSeries = string(m)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
	c.TextfileSeries = "failed"
	if err := c.Validate(); err == nil || err.Error() != `textfile_series: "failed" is not one of all, failing, summary` {
		t.Errorf("err = %v", err)
	}
}
