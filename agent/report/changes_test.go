package report_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/agent/report/reporttest"
	"github.com/vigie-agent/vigie/checks"
)

// roundTrip is the previous report as the sinks read it back from disk.
func roundTrip(t *testing.T, r *report.Report) *report.Report {
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var out report.Report
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func TestChanges(t *testing.T) {
	set := func(r *report.Report, id string, st checks.Status, ev ...checks.Evidence) {
		for i := range r.Findings {
			if r.Findings[i].ID == id {
				r.Findings[i].Status = st
				if ev != nil {
					r.Findings[i].Evidence = ev
				}
			}
		}
	}
	port := func(p string) checks.Evidence {
		return checks.Evidence{Subject: p, Key: "listening", Value: []string{"0.0.0.0", "::"}, Line: 3}
	}
	tests := []struct {
		name   string
		change func(prev, cur *report.Report)
		want   map[string]report.ChangeKind
		was    map[string]checks.Status
	}{
		{"nothing", func(_, _ *report.Report) {}, map[string]report.ChangeKind{}, nil},
		{"newly failing", func(_, cur *report.Report) { set(cur, "ssh.root-login", checks.Fail) },
			map[string]report.ChangeKind{"ssh.root-login": report.Failing}, map[string]checks.Status{"ssh.root-login": checks.Pass}},
		{"resolved", func(_, cur *report.Report) { set(cur, "ssh.password-auth", checks.Pass) },
			map[string]report.ChangeKind{"ssh.password-auth": report.Resolved}, map[string]checks.Status{"ssh.password-auth": checks.Fail}},
		{"error resolved to skip", func(_, cur *report.Report) { set(cur, "patches.index-fresh", checks.Skip) },
			map[string]report.ChangeKind{"patches.index-fresh": report.Resolved}, nil},
		{"fail to error", func(_, cur *report.Report) { set(cur, "ssh.password-auth", checks.Error) },
			map[string]report.ChangeKind{"ssh.password-auth": report.Changed}, nil},
		{"evidence changed", func(prev, cur *report.Report) {
			set(prev, "ssh.password-auth", checks.Fail, port("8080/tcp"))
			set(cur, "ssh.password-auth", checks.Fail, port("8080/tcp"), port("9090/tcp"))
		}, map[string]report.ChangeKind{"ssh.password-auth": report.Changed}, nil},
		{"same evidence after a trip to disk", func(prev, cur *report.Report) {
			set(prev, "ssh.password-auth", checks.Fail, port("8080/tcp"))
			set(cur, "ssh.password-auth", checks.Fail, port("8080/tcp"))
		}, map[string]report.ChangeKind{}, nil},
		{"a passing check's evidence is no change", func(prev, cur *report.Report) {
			set(prev, "ssh.root-login", checks.Pass, port("22/tcp"))
			set(cur, "ssh.root-login", checks.Pass, port("2222/tcp"))
		}, map[string]report.ChangeKind{}, nil},
		{"failing check left the report", func(_, cur *report.Report) { cur.Findings = cur.Findings[1:] },
			map[string]report.ChangeKind{"ssh.password-auth": report.Resolved}, nil},
		{"new failing check", func(prev, _ *report.Report) { prev.Findings = prev.Findings[1:] },
			map[string]report.ChangeKind{"ssh.password-auth": report.Failing}, map[string]checks.Status{"ssh.password-auth": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev, cur := reporttest.Sample(), reporttest.Sample()
			tt.change(prev, cur)
			got := report.Changes(roundTrip(t, prev), cur)
			kinds := map[string]report.ChangeKind{}
			for _, c := range got {
				kinds[c.Finding.ID] = c.Kind
				if w, ok := tt.was[c.Finding.ID]; ok && c.Was != w {
					t.Errorf("%s: was %q, want %q", c.Finding.ID, c.Was, w)
				}
			}
			if len(kinds) != len(tt.want) || len(got) != len(tt.want) {
				t.Fatalf("changes %v, want %v", kinds, tt.want)
			}
			for id, k := range tt.want {
				if kinds[id] != k {
					t.Errorf("%s: %q, want %q", id, kinds[id], k)
				}
			}
		})
	}
	// No report before: every failing or erroring finding is news.
	if got := report.Changes(nil, reporttest.Sample()); len(got) != 2 || got[0].Kind != report.Failing || got[1].Finding.ID != "patches.index-fresh" {
		t.Errorf("first report: %+v", got)
	}
	// A check that left the report is resolved as skip, saying why.
	prev, cur := reporttest.Sample(), reporttest.Sample()
	cur.Findings = cur.Findings[1:]
	if got := report.Changes(prev, cur); got[0].Finding.Status != checks.Skip || got[0].Finding.Reason == "" {
		t.Errorf("gone: %+v", got[0])
	}
}

func TestTableWaived(t *testing.T) {
	r := reporttest.Sample()
	r.Findings[0].Evidence = []checks.Evidence{{Subject: "8080/tcp on 0.0.0.0", Key: "reachable", Value: true, Waived: true}}
	r.Findings[0].Waived = []checks.Waiver{{Check: r.Findings[0].ID, Subject: "8080/tcp", Reason: "staging", AcceptedBy: "alice\x1b[2J", Expires: "2026-12-31"}}
	r.Summary = report.Summarize(r.Findings)
	var b strings.Builder
	if err := (report.Table{}).Format(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"WAIVED", "fail (passwordauthentication is yes (global), accepted by alice\\x1b[2J until 2026-12-31)", "[waived]", "0 fail, 1 error, 1 skip, 1 waived", "WAIVED ssh.password-auth"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if r.Summary.Fail != 0 || r.Summary.Waived != 1 || r.Failing(checks.Info) != true { // the error still fails
		t.Errorf("summary %+v", r.Summary)
	}
	// A waived finding that fails again when its waiver goes is news.
	prev := roundTrip(t, r)
	cur := reporttest.Sample()
	if c := report.Changes(prev, cur); len(c) != 1 || c[0].Kind != report.Unwaived {
		t.Errorf("unwaived: %+v", c)
	}
	if c := report.Changes(reporttest.Sample(), r); len(c) != 1 || c[0].Kind != report.Waived {
		t.Errorf("waived: %+v", c)
	}
}

func TestCompareRegressions(t *testing.T) {
	ev := func(subjects ...string) []checks.Evidence {
		var out []checks.Evidence
		for _, s := range subjects {
			out = append(out, checks.Evidence{Subject: s, Key: "reachable", Value: true})
		}
		return out
	}
	old := reporttest.Sample()
	old.Findings[0].Evidence = ev("8080/tcp on 0.0.0.0")
	fewer, more := reporttest.Sample(), reporttest.Sample()
	fewer.Findings[0].Evidence = []checks.Evidence{}
	fewer.Findings[0].Status = checks.Error // another status, nothing new failing
	more.Findings[0].Evidence = ev("8080/tcp on 0.0.0.0", "9090/tcp on 0.0.0.0")
	if d := report.Compare(old, fewer); d.Regressions != 0 || len(d.Changes) != 1 || d.Changes[0].Kind != report.Changed {
		t.Errorf("fewer: %+v", d)
	}
	if d := report.Compare(old, more); d.Regressions != 1 {
		t.Errorf("a second port is a regression: %+v", d)
	}
	// A failing check the new report skips, or leaves out: not resolved,
	// a regression.
	skipped, narrower := reporttest.Sample(), reporttest.Sample()
	skipped.Findings[0].Status, skipped.Findings[0].Reason = checks.Skip, "live only: skipped on an image tree"
	narrower.Findings = narrower.Findings[1:]
	for name, cur := range map[string]*report.Report{"skipped": skipped, "left out": narrower} {
		d := report.Compare(old, cur)
		if d.Regressions != 1 || len(d.Changes) != 1 || d.Changes[0].Kind != report.Unjudged {
			t.Errorf("%s: want one unjudged change, a regression: %+v", name, d)
		}
	}
	if d := report.Compare(skipped, old); d.Regressions != 1 || d.Changes[0].Kind != report.Failing {
		t.Errorf("judged again and failing: %+v", d)
	}
	var b strings.Builder
	hostile := reporttest.Hostile("\x1b]0;owned\x07")
	if err := report.FormatDiff(&b, report.Compare(reporttest.Sample(), hostile)); err != nil {
		t.Fatal(err)
	}
	reporttest.CheckPrintable(t, "diff", b.String(), true, 400)
}

// FuzzDiff: whatever two files hold, the comparison of what decodes is
// printable and bounded.
func FuzzDiff(f *testing.F) {
	b, _ := json.Marshal(reporttest.Sample())
	f.Add(b)
	f.Add([]byte(`{"schema":"vigie.report/v1","findings":[{"id":"a.b\u001b[2J","status":"fail","waived":[{"accepted_by":"\u202e"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r report.Report
		if json.Unmarshal(data, &r) != nil {
			return
		}
		var out strings.Builder
		if err := report.FormatDiff(&out, report.Compare(reporttest.Sample(), &r)); err != nil {
			t.Fatal(err)
		}
		reporttest.CheckPrintable(t, "diff", out.String(), true, 1000)
	})
}
