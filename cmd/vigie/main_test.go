package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/vigie-agent/vigie/agent"
	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/internal/reportschema"
	"github.com/vigie-agent/vigie/internal/testenv"
)

func runVigie(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	t.Setenv("NO_COLOR", "1")
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// The fixture trees are read from files only (sshd_path points nowhere and
// the live probe is off), so the verdicts do not depend on this machine.
func TestCheckExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"hardened", []string{"check", "--config", "testdata/offline.yaml", "--path.root", "testdata/hardened", "--only", "ssh"}, 0, "PASS"},
		{"default", []string{"check", "--config", "testdata/offline.yaml", "--path.root", "testdata/default", "--only", "ssh"}, 1, "ssh.password-auth"},
		{"default, only high counts, host keys are medium", []string{"check", "--config", "testdata/offline.yaml", "--path.root", "testdata/default", "--only", "ssh.host-keys", "--fail-on", "high"}, 0, "FAIL"},
		{"unknown key", []string{"check", "--config", "testdata/bad.yaml"}, 2, ""},
		{"unknown area", []string{"check", "--config", "testdata/offline.yaml", "--only", "dns"}, 2, ""},
		{"bad severity", []string{"check", "--config", "testdata/offline.yaml", "--fail-on", "severe"}, 2, ""},
		{"bad flag", []string{"check", "--jsn"}, 2, ""},
		{"missing explicit config", []string{"check", "--config", "testdata/nope.yaml"}, 2, ""},
		{"explain", []string{"explain", "ssh.password-auth"}, 0, "Meilleures pratiques"},
		{"explain unknown", []string{"explain", "ssh.nope"}, 2, ""},
		{"explain the waivers' check", []string{"explain", "vigie.waivers"}, 0, "waiver that matches nothing"},
		{"version", []string{"version"}, 0, "vigie "},
	}
	for _, tt := range tests {
		code, out, errOut := runVigie(t, tt.args...)
		if code != tt.code {
			t.Errorf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tt.name, code, tt.code, out, errOut)
		}
		if !strings.Contains(out, tt.out) {
			t.Errorf("%s: stdout lacks %q:\n%s", tt.name, tt.out, out)
		}
		if tt.code == 2 && !strings.HasPrefix(errOut, "vigie: ") {
			t.Errorf("%s: stderr %q does not explain the failure", tt.name, errOut)
		}
	}
}

func TestUnknownKeyIsNamed(t *testing.T) {
	_, _, errOut := runVigie(t, "check", "--config", "testdata/bad.yaml")
	if !strings.Contains(errOut, "unknown key ssh.probe_timout") {
		t.Errorf("stderr %q does not name the key", errOut)
	}
}

func TestCheckJSON(t *testing.T) {
	code, out, _ := runVigie(t, "check", "--json", "--only", "ssh", "--config", "testdata/offline.yaml", "--path.root", "testdata/default")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var rep struct {
		Schema   string
		Findings []struct {
			ID, Status string
			Evidence   []struct {
				Source, File string
				Line         int
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if rep.Schema != "vigie.report/v1" || len(rep.Findings) != 8 {
		t.Fatalf("report: %+v", rep)
	}
	for _, f := range rep.Findings {
		if f.ID == "ssh.password-auth" && (f.Status != "fail" || f.Evidence[0].Source != "config files") {
			t.Errorf("password-auth: %+v", f)
		}
		if f.ID == "ssh.live-probe" && f.Status != "skip" {
			t.Errorf("live probe with probe off: %s", f.Status)
		}
	}
}

func TestExplainSaysHowToFix(t *testing.T) {
	_, out, _ := runVigie(t, "explain", "ssh.password-auth")
	for _, want := range []string{"Why it matters", "Where the duty comes from", "How to fix it by hand", "PasswordAuthentication no", "sshd -t"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q:\n%s", want, out)
		}
	}
}

func TestListChecks(t *testing.T) {
	cat := agent.Catalogue()
	for _, profile := range checks.ProfileNames() {
		code, out, _ := runVigie(t, "check", "--list", "--profile", profile, "--config", "testdata/offline.yaml")
		p := checks.Profiles[profile]
		n := 0
		for _, id := range cat.IDs() {
			m, _ := cat.Lookup(id)
			m, in := p.Apply(m)
			line := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(id) + `\s+` + m.Severity.String() + `\s`)
			if in != line.MatchString(out) {
				t.Errorf("--profile %s: %s listed %v (with severity %s), want %v", profile, id, !in, m.Severity, in)
			}
			if in {
				n++
			}
		}
		if code != 0 || strings.Count(out, "\n") != n {
			t.Errorf("--profile %s: exit %d, %d lines for %d checks:\n%s", profile, code, strings.Count(out, "\n"), n, out)
		}
	}
	// The hds profile adds the HDS checks and weighs encryption higher.
	_, out, _ := runVigie(t, "check", "--list", "--profile", "hds", "--config", "testdata/offline.yaml")
	for _, want := range []string{"hds.zone", "hds.offer"} {
		if !strings.Contains(out, want) {
			t.Errorf("hds profile lacks %s", want)
		}
	}
	if !regexp.MustCompile(`(?m)^disks\.block-encrypted\s+high\s`).MatchString(out) {
		t.Errorf("hds profile: disks.block-encrypted not high:\n%s", out)
	}
}

// TestCheckJSONValidates runs `vigie check --json` on this machine, with
// the default configuration, and validates the output against the
// published schema.
func TestCheckJSONValidates(t *testing.T) {
	code, out, errOut := runVigie(t, "check", "--json")
	if code == 2 {
		t.Fatalf("exit 2: %s", errOut)
	}
	if err := reportschema.Check([]byte(out)); err != nil {
		t.Fatalf("does not validate: %v\n%s", err, out)
	}
}

// TestCheckFormats: `vigie check --format sarif` and `--format junit` on a
// fixture tree give documents that validate against their published
// schemas, carry the catalogue's text and exit as the table would; a wrong
// --format, or --json with another format, is a usage error.
func TestCheckFormats(t *testing.T) {
	testenv.Commands(t, "apt-get install libxml2-utils", "xmllint")
	args := []string{"check", "--config", "testdata/offline.yaml", "--path.root", "testdata/default", "--only", "ssh"}
	code, out, errOut := runVigie(t, append(args, "--format", "sarif")...)
	if code != 1 {
		t.Fatalf("sarif: exit %d: %s", code, errOut)
	}
	if err := reportschema.CheckSARIF([]byte(out)); err != nil {
		t.Errorf("sarif: %v\n%s", err, out)
	}
	for _, want := range []string{`"ruleId": "ssh.password-auth"`, "How to fix it by hand: Create /etc/ssh/sshd_config.d/00-hardening.conf",
		`"uri": "etc/ssh/sshd_config"`, `"uriBaseId": "ROOT"`, `"security-severity": "8.0"`, `"vigieFinding/v1": "`} {
		if !strings.Contains(out, want) {
			t.Errorf("sarif lacks %s", want)
		}
	}
	code, out, errOut = runVigie(t, append(args, "--format", "junit")...)
	if code != 1 {
		t.Fatalf("junit: exit %d: %s", code, errOut)
	}
	if err := reportschema.CheckJUnit([]byte(out)); err != nil {
		t.Errorf("junit: %v\n%s", err, out)
	}
	if !strings.Contains(out, `<testcase name="ssh.password-auth" classname="vigie.ssh"`) || !strings.Contains(out, `<failure message="passwordauthentication is yes (global) [read from the files: `) {
		t.Errorf("junit:\n%s", out)
	}
	if code, out, _ := runVigie(t, append(args, "--format", "json", "--json")...); code != 1 || reportschema.Check([]byte(out)) != nil {
		t.Errorf("--format json --json: exit %d", code)
	}
	for _, bad := range [][]string{{"--format", "xml"}, {"--format", "sarif", "--json"}, {"--json", "--format", "junit"}} {
		code, out, errOut := runVigie(t, append(args, bad...)...)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, "vigie: ") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", bad, code, out, errOut)
		}
		if bad[1] == "xml" && !strings.Contains(errOut, "table, json, sarif, junit") {
			t.Errorf("%v: stderr %q does not name the formats", bad, errOut)
		}
	}
}

// TestCheckFormatsValidate runs `vigie check --format sarif` and `--format
// junit` on this machine, with the default configuration, and validates
// both against their schemas; a second SARIF run, with its own report id
// and time, gives the same fingerprints.
func TestCheckFormatsValidate(t *testing.T) {
	testenv.Commands(t, "apt-get install libxml2-utils", "xmllint")
	check := map[string]func([]byte) error{"sarif": reportschema.CheckSARIF, "junit": reportschema.CheckJUnit}
	var fingerprints []map[string]string
	for _, format := range []string{"sarif", "junit", "sarif"} {
		code, out, errOut := runVigie(t, "check", "--format", format)
		if code == 2 {
			t.Fatalf("%s: exit 2: %s", format, errOut)
		}
		if err := check[format]([]byte(out)); err != nil {
			t.Errorf("%s: does not validate: %v\n%s", format, err, out)
		}
		if format != "sarif" {
			continue
		}
		var log struct {
			Runs []struct {
				Results []struct {
					RuleID              string
					PartialFingerprints map[string]string
				}
			}
		}
		if err := json.Unmarshal([]byte(out), &log); err != nil {
			t.Fatal(err)
		}
		fp := map[string]string{}
		for _, r := range log.Runs[0].Results {
			fp[r.RuleID] = r.PartialFingerprints[report.FingerprintKey]
		}
		fingerprints = append(fingerprints, fp)
	}
	if a, b := fingerprints[0], fingerprints[1]; fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("two runs, two sets of fingerprints:\n%v\n%v", a, b)
	}
}

// TestFixDryRun plans on a fixture tree and writes nothing.
func TestFixDryRun(t *testing.T) {
	code, out, errOut := runVigie(t, "fix", "--dry-run", "--only", "ssh", "--config", "testdata/offline.yaml", "--path.root", "testdata/default")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	for _, want := range []string{"== ssh:", "Not changed: password login", "+HostKey /etc/ssh/ssh_host_ed25519_key", "Not applied (dry run)"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat("testdata/default/etc/ssh/sshd_config.d/00-vigie.conf"); !os.IsNotExist(err) {
		t.Errorf("dry run wrote the drop-in: %v", err)
	}
	if code, _, errOut := runVigie(t, "fix", "--only", "dns", "--config", "testdata/offline.yaml"); code != 2 || !strings.Contains(errOut, `no remediation for "dns"`) {
		t.Errorf("unknown area: exit %d %q", code, errOut)
	}
	if code, _, errOut := runVigie(t, "fix", "--confirm-window", "-5s", "--only", "ssh", "--config", "testdata/offline.yaml"); code != 2 || !strings.Contains(errOut, "--confirm-window: must not be negative") {
		t.Errorf("a negative --confirm-window: exit %d %q", code, errOut)
	}
}

// TestReportCommand: `vigie report` checks and delivers at once; with the
// endpoint gone the report waits in the spool and the exit status says so,
// and the next `vigie report` delivers both, oldest first.
func TestReportCommand(t *testing.T) {
	var mu sync.Mutex
	var ids []string
	up := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if !up {
			w.Header().Set("Retry-After", "120")
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		ids = append(ids, r.Header.Get("Idempotency-Key"))
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "vigie.yaml")
	body := fmt.Sprintf("state_dir: %s\nonly: [ssh]\nssh:\n  probe: false\n  sshd_path: /nonexistent/sshd\nrun:\n  cycle_timeout: 20s\nreport:\n  journal: false\n  endpoint:\n    url: %s/reports\n    timeout: 2s\n", dir, srv.URL)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"report", "--config", conf, "--path.root", "testdata/default"}
	if code, out, errOut := runVigie(t, args...); code != 0 || !strings.Contains(out, "1 delivered, 0 waiting") {
		t.Fatalf("endpoint up: exit %d\n%s%s", code, out, errOut)
	}
	mu.Lock()
	up = false
	mu.Unlock()
	if code, out, _ := runVigie(t, args...); code != 1 || !strings.Contains(out, "0 delivered, 1 waiting") {
		t.Fatalf("endpoint failing: exit %d\n%s", code, out)
	}
	mu.Lock()
	up = true
	mu.Unlock()
	if code, out, errOut := runVigie(t, args...); code != 0 || !strings.Contains(out, "2 delivered, 0 waiting") {
		t.Fatalf("endpoint back: exit %d\n%s%s", code, out, errOut)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 3 || ids[0] == ids[1] || ids[1] == ids[2] {
		t.Errorf("received %v", ids)
	}
}

// TestHostTextEscaped: an authorized_keys comment is the user's to choose.
// The table shows it escaped, with no byte that would reach the terminal;
// the JSON report keeps it as written.
func TestHostTextEscaped(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"etc/passwd", "etc/ssh/sshd_config", "etc/ssh/ssh_host_ed25519_key.pub", "etc/ssh/ssh_host_rsa_key.pub"} {
		b, err := os.ReadFile(filepath.Join("testdata/default", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rsa, _ := os.ReadFile(filepath.Join(root, "etc/ssh/ssh_host_rsa_key.pub"))
	fields := strings.Fields(string(rsa))
	comment := "me@laptop\x1b[2J\x1b]0;owned\x07\rPASS\u202e\xff"
	if err := os.MkdirAll(filepath.Join(root, "root/.ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "root/.ssh/authorized_keys"), []byte(fields[0]+" "+fields[1]+" "+comment+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"check", "--config", "testdata/offline.yaml", "--path.root", root, "--only", "ssh.authorized-keys"}
	code, out, errOut := runVigie(t, args...)
	if code != 1 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.ContainsFunc(out, func(r rune) bool { return r < 0x20 && r != '\n' || r == 0x7f || r == '\u202e' }) {
		t.Errorf("the table passes a control character on:\n%q", out)
	}
	if !strings.Contains(out, `me@laptop\x1b[2J\x1b]0;owned\x07\rPASS\u202e\xff`) {
		t.Errorf("the table does not show the comment, escaped:\n%s", out)
	}
	_, js, _ := runVigie(t, append(args, "--json")...)
	var rep report.Report
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatal(err)
	}
	want := fields[0] + " " + strings.ToValidUTF8(comment, "\ufffd")
	for _, e := range rep.Findings[0].Evidence {
		if e.Value == want {
			return
		}
	}
	t.Errorf("the JSON report does not keep the comment %q: %+v", want, rep.Findings[0].Evidence)
}

// TestErrorEscaped: an error quotes paths and values, printed on one line,
// escaped.
func TestErrorEscaped(t *testing.T) {
	code, _, errOut := runVigie(t, "check", "--config", "testdata/\x1b[2J\nvigie: ok.yaml")
	if code != 2 || strings.Count(errOut, "\n") != 1 || strings.Contains(errOut, "\x1b") || !strings.Contains(errOut, `testdata/\x1b[2J\nvigie: ok.yaml`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}
