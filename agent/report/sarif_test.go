package report_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/agent/report/reporttest"
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/internal/reportschema"
)

// sarifLog is what the tests read back of a SARIF log.
type sarifLog struct {
	Schema  string `json:"$schema"`
	Version string
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name, Version, InformationURI string
				Rules                         []struct {
					ID, Name, HelpURI                 string
					ShortDescription, FullDescription struct{ Text string }
					Help                              struct{ Text string }
					DefaultConfiguration              struct{ Level string }
					Properties                        map[string]any
				}
			}
		}
		AutomationDetails  struct{ ID string }
		OriginalURIBaseIDs map[string]struct{ URI string } `json:"originalUriBaseIds"`
		Results            []struct {
			RuleID              string
			RuleIndex           int
			Kind, Level         string
			Message             struct{ Text string }
			PartialFingerprints map[string]string
			Locations           []struct {
				PhysicalLocation struct {
					ArtifactLocation struct{ URI, URIBaseID string } `json:"artifactLocation"`
					Region           *struct{ StartLine int }
				}
				LogicalLocations []struct{ Name, FullyQualifiedName, Kind string }
			}
			Properties struct{ Status, Severity string }
		}
	}
}

func formatSARIF(t testing.TB, r *report.Report) ([]byte, sarifLog) {
	t.Helper()
	var buf bytes.Buffer
	if err := (report.SARIF{}).Format(&buf, r); err != nil {
		t.Fatal(err)
	}
	var log sarifLog
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if len(log.Runs) != 1 {
		t.Fatalf("%d runs", len(log.Runs))
	}
	return buf.Bytes(), log
}

// located is a report whose findings cover what the formats map: a
// failure with a file and a line (and a passing piece of evidence with a
// file, which is no location), one without a file, an error, a pass and a
// skip, and a check whose catalogue entry has its rationale and manual fix.
func located() *report.Report {
	r := reporttest.Sample()
	meta := checks.Meta{ID: "ssh.crypto", Title: "No weak ciphers", Severity: checks.Critical,
		Rationale: "Weak MACs let {0} forge [packets](1).", ManualFix: `Set MACs in /etc/ssh/sshd_config, then sshd -t.`,
		References: []checks.Reference{{Source: "ANSSI-BP-028", Section: "R12", Text: "utiliser des algorithmes robustes"}}}
	r.Findings = append(r.Findings,
		checks.Finding{Meta: meta, Status: checks.Fail, Reason: `macs {umac-64} weak: [x](https://example.net) \o/`, Evidence: []checks.Evidence{
			{Subject: "global", Key: "macs", Value: []string{"umac-64"}, File: "/etc/ssh/sshd_config", Line: 12},
			{Subject: "global", Key: "macs", Value: []string{"umac-64"}, File: "/etc/ssh/sshd_config", Line: 12}, // twice: one location
			{Subject: "global", Key: "ciphers", File: "/etc/ssh/sshd_config.d/50-x.conf"},
			{Subject: "global", Key: "kex", File: "/etc/ssh/ok.conf", Line: 3, OK: true},
		}},
		checks.Finding{Meta: checks.Meta{ID: "firewall.persistent", Title: "persistent", Severity: checks.Low}, Status: checks.Fail, Reason: "not enabled",
			Evidence: []checks.Evidence{{Subject: "nftables.service", Key: "unit_file_state", Value: "disabled"}, {Subject: "nftables.service", Key: "unit_file_state", Value: "masked"}}},
	)
	r.Findings[0].Evidence = []checks.Evidence{{Subject: "global", Key: "passwordauthentication", Value: "yes", Source: "sshd -T"}}
	r.Summary = report.Summarize(r.Findings)
	r.Host = report.Host{Hostname: "web/1", MachineID: "5c1e0ab8d3e34c8f9a0f3e1b7d2c4a61"}
	return r
}

func readReport(t testing.TB, path string) *report.Report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r report.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// TestSARIFValidates: the sample, the mapping report and a real Debian 12
// report are valid SARIF 2.1.0 by the OASIS schema (TestSARIFHostileText
// validates the hostile ones).
func TestSARIFValidates(t *testing.T) {
	reports := map[string]*report.Report{"sample": reporttest.Sample(), "located": located(), "debian12": readReport(t, "testdata/report-debian12.json")}
	for name, r := range reports {
		validSARIF(t, name, r)
	}
}

// validSARIF formats r and checks the log: valid UTF-8, valid by the
// schema, a rule per check and a result, with a physical location, for
// each failing or erroring one.
func validSARIF(t *testing.T, name string, r *report.Report) ([]byte, sarifLog) {
	t.Helper()
	data, log := formatSARIF(t, r)
	if !utf8.Valid(data) {
		t.Errorf("%s: not UTF-8", name)
	}
	if err := reportschema.CheckSARIF(data); err != nil {
		t.Errorf("%s: %v", name, err)
	}
	run := log.Runs[0]
	ids := map[string]bool{} // a hostile report repeats ids: one rule each
	for _, f := range r.Findings {
		ids[f.ID] = true
	}
	if len(run.Tool.Driver.Rules) != len(ids) || len(run.Results) != r.Summary.Fail+r.Summary.Error {
		t.Errorf("%s: %d rules, %d results for %+v", name, len(run.Tool.Driver.Rules), len(run.Results), r.Summary)
	}
	for _, res := range run.Results {
		if len(res.Locations) == 0 || res.Locations[0].PhysicalLocation.ArtifactLocation.URI == "" {
			t.Errorf("%s: %s has no physical location", name, res.RuleID)
		}
	}
	return data, log
}

// TestSARIFSchemaRejects: the schema and its format assertions mean
// something.
func TestSARIFSchemaRejects(t *testing.T) {
	data, _ := formatSARIF(t, reporttest.Sample())
	for _, bad := range []struct{ old, new string }{
		{`"version": "2.1.0"`, `"version": "2.2"`},
		{`"kind": "fail"`, `"kind": "failed"`},
		{`"level": "error"`, `"level": "high"`},
		{`"startTimeUtc": "2026-11-23T10:00:00.000Z"`, `"startTimeUtc": "yesterday"`},
	} {
		if !bytes.Contains(data, []byte(bad.old)) {
			t.Fatalf("no %s in the log", bad.old)
		}
		if err := reportschema.CheckSARIF(bytes.Replace(data, []byte(bad.old), []byte(bad.new), 1)); err == nil {
			t.Errorf("%s accepted", bad.new)
		}
	}
}

func TestSARIFMapping(t *testing.T) {
	r := located()
	_, log := formatSARIF(t, r)
	run := log.Runs[0]
	d := run.Tool.Driver
	if d.Name != "vigie" || d.Version != "1.2.3" || d.InformationURI != report.DocsURL {
		t.Errorf("driver %+v", d)
	}
	if run.OriginalURIBaseIDs["ROOT"].URI != "file:///" || run.AutomationDetails.ID != "vigie/baseline/web_1/" {
		t.Errorf("base ids %+v, automation %+v", run.OriginalURIBaseIDs, run.AutomationDetails)
	}
	rules := map[string]int{}
	for i, rule := range d.Rules {
		rules[rule.ID] = i
	}
	crypto := d.Rules[rules["ssh.crypto"]]
	if crypto.Name != "SshCrypto" || crypto.ShortDescription.Text != "No weak ciphers" || crypto.DefaultConfiguration.Level != "error" ||
		crypto.HelpURI != "https://github.com/vigie-agent/vigie/blob/main/docs/checks.md#sshcrypto" ||
		crypto.Properties["security-severity"] != "9.5" || crypto.Properties["severity"] != "critical" {
		t.Errorf("rule %+v", crypto)
	}
	if crypto.FullDescription.Text != "Weak MACs let {{0}} forge [packets\\](1)." {
		t.Errorf("full description %q", crypto.FullDescription.Text)
	}
	for _, want := range []string{"How to fix it by hand: Set MACs", `then sshd -t.`, "ANSSI-BP-028, R12: «utiliser des algorithmes robustes»", crypto.HelpURI} {
		if !strings.Contains(crypto.Help.Text, want) {
			t.Errorf("help lacks %q: %s", want, crypto.Help.Text)
		}
	}
	if root := d.Rules[rules["ssh.root-login"]]; root.FullDescription.Text != "ssh.root-login." || !strings.Contains(root.Help.Text, root.HelpURI) {
		t.Errorf("a rule without rationale: %+v", root)
	}
	levels := map[string]string{"ssh.password-auth": "error", "patches.index-fresh": "warning", "ssh.crypto": "error", "firewall.persistent": "note"}
	if len(run.Results) != len(levels) {
		t.Fatalf("%d results, want %d", len(run.Results), len(levels))
	}
	for _, res := range run.Results {
		if d.Rules[res.RuleIndex].ID != res.RuleID || res.Kind != "fail" || res.Level != levels[res.RuleID] || len(res.PartialFingerprints[report.FingerprintKey]) != 64 {
			t.Errorf("result %+v", res)
		}
		loc := res.Locations[0]
		switch res.RuleID {
		case "ssh.crypto":
			if res.Message.Text != `macs {{umac-64}} weak: [x\](https://example.net) \\o/` {
				t.Errorf("message %q", res.Message.Text)
			}
			if len(res.Locations) != 2 {
				t.Fatalf("locations %+v", res.Locations)
			}
			pl, pl2 := loc.PhysicalLocation, res.Locations[1].PhysicalLocation
			if pl.ArtifactLocation.URI != "etc/ssh/sshd_config" || pl.ArtifactLocation.URIBaseID != "ROOT" || pl.Region == nil || pl.Region.StartLine != 12 ||
				pl2.ArtifactLocation.URI != "etc/ssh/sshd_config.d/50-x.conf" || pl2.Region != nil {
				t.Errorf("locations %+v", res.Locations)
			}
			if ll := loc.LogicalLocations; len(ll) != 1 || ll[0].Name != "global" || ll[0].FullyQualifiedName != "global/macs" {
				t.Errorf("logical location %+v", ll)
			}
		case "firewall.persistent":
			// No file: the check names the artifact; one logical location for
			// the two pieces of evidence about the same unit and key.
			if loc.PhysicalLocation.ArtifactLocation.URI != "firewall.persistent" || loc.PhysicalLocation.ArtifactLocation.URIBaseID != "" ||
				len(loc.LogicalLocations) != 1 || loc.LogicalLocations[0].FullyQualifiedName != "nftables.service/unit_file_state" {
				t.Errorf("location %+v", loc)
			}
		case "patches.index-fresh":
			if res.Message.Text != "could not be checked: apt: exit 100" || res.Properties.Status != "error" ||
				loc.LogicalLocations[0].Name != "patches.index-fresh" {
				t.Errorf("error result %+v", res)
			}
		}
	}
}

func fingerprints(t *testing.T, r *report.Report) map[string]string {
	t.Helper()
	_, log := formatSARIF(t, r)
	fp := map[string]string{}
	for _, res := range log.Runs[0].Results {
		fp[res.RuleID] = res.PartialFingerprints[report.FingerprintKey]
	}
	return fp
}

// TestSARIFFingerprintsStable: two runs on the same host, with their own
// report ids, start times, durations, reasons, values and lines, give the
// same fingerprints; what fails changing (another subject) changes it.
func TestSARIFFingerprintsStable(t *testing.T) {
	first, second := located(), located()
	second.ID, second.StartedAt, second.DurationMS = report.NewID(), first.StartedAt.Add(time.Hour), 2222
	for i := range second.Findings {
		f := &second.Findings[i]
		f.Reason += " (again)"
		for j := range f.Evidence {
			f.Evidence[j].Value, f.Evidence[j].Line = "other", f.Evidence[j].Line+5
		}
		f.Evidence = append(f.Evidence, checks.Evidence{Subject: "new", Key: "passing", OK: true})
	}
	// The same pieces of evidence in another order.
	ev := second.Findings[4].Evidence
	ev[0], ev[2] = ev[2], ev[0]
	a, b := fingerprints(t, first), fingerprints(t, second)
	if len(a) != 4 {
		t.Fatalf("fingerprints %v", a)
	}
	for id, fp := range a {
		if b[id] != fp {
			t.Errorf("%s: fingerprint %s, then %s", id, fp, b[id])
		}
	}
	second.Findings[4].Evidence[0].Subject = "Match User deploy"
	if c := fingerprints(t, second); c["ssh.crypto"] == a["ssh.crypto"] || c["ssh.password-auth"] != a["ssh.password-auth"] {
		t.Errorf("another failing subject kept the fingerprint, or changed another check's: %v %v", a, c)
	}
}

// TestSARIFHostileText: whatever a host says, the log is valid; its text
// reaches the log as JSON strings (escaped by encoding/json, invalid UTF-8
// as U+FFFD) and its file names as URI references; the log reads back to
// the same text.
func TestSARIFHostileText(t *testing.T) {
	for _, tt := range reporttest.HostileText {
		data, log := validSARIF(t, "hostile "+tt.Name, reporttest.Hostile(tt.In))
		if bytes.ContainsFunc(data, func(r rune) bool { return r < 0x20 && r != '\n' }) {
			t.Errorf("%s: raw control bytes", tt.Name)
		}
		want := string([]rune(tt.In))
		res := log.Runs[0].Results[0]
		if res.Properties.Status != "fail" || res.RuleID != "ssh."+want {
			t.Errorf("%s: rule id %.60q", tt.Name, res.RuleID)
		}
		uri := res.Locations[0].PhysicalLocation.ArtifactLocation.URI
		if strings.ContainsFunc(uri, func(r rune) bool { return r <= 0x20 || r >= 0x7f }) {
			t.Errorf("%s: uri %.60q is not escaped", tt.Name, uri)
		}
	}
}
