package waivers

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigie-agent/vigie/checks"
)

var now = time.Date(2026, 12, 1, 15, 4, 5, 0, time.UTC)

func parseYAML(t *testing.T, doc string) ([]checks.Waiver, error) {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	return Parse(m["waivers"], "vigie.yaml", now, DefaultMaxDays)
}

func TestParse(t *testing.T) {
	ok := "waivers:\n  - check: firewall.exposed-services\n    subject: 8080/tcp\n    reason: staging\n    accepted_by: alice\n    expires: 2026-12-02\n"
	ws, err := parseYAML(t, ok)
	if err != nil || len(ws) != 1 || ws[0] != (checks.Waiver{Check: "firewall.exposed-services", Subject: "8080/tcp", Reason: "staging", AcceptedBy: "alice", Expires: "2026-12-02", Source: "vigie.yaml"}) {
		t.Fatalf("%+v %v", ws, err)
	}
	tests := []struct{ doc, want string }{
		{"waivers:\n  - check: a.b\n    reason: r\n    accepted_by: x\n    expires: 2026-12-02\n    owner: bob\n", "waivers[0]: unknown key owner (known keys: check, subject, reason, accepted_by, expires)"},
		{"waivers:\n  - check: a.b\n    reason: r\n    expires: 2026-12-02\n", "waivers[0]: accepted_by is required"},
		{"waivers:\n  - check: a.b\n    reason: r\n    accepted_by: x\n", "waivers[0]: expires is required"},
		{"waivers:\n  - check: a.b\n    reason: r\n    accepted_by: x\n    expires: 02/12/2026\n", `expires: "02/12/2026" is not a date as YYYY-MM-DD`},
		{"waivers:\n  - check: a.b\n    reason: r\n    accepted_by: x\n    expires: 2026-13-01\n", `expires: "2026-13-01" is not a date`},
		{"waivers:\n  - check: a.b\n    reason: r\n    accepted_by: x\n    expires: 2026-12-02T10:00:00Z\n", "want a date as YYYY-MM-DD"},
		{"waivers:\n  - check: a.b\n    reason: r\n    accepted_by: x\n    expires: 2028-01-01\n", "more than 365 days ahead"},
		{"waivers:\n  - check: a.b\n    reason: [r]\n    accepted_by: x\n    expires: 2026-12-02\n", "reason: want a string"},
		{"waivers:\n  - check: a.b\n    reason: \"r\\x1b[2J\"\n    accepted_by: x\n    expires: 2026-12-02\n", "control character"},
		{"waivers: {check: a.b}\n", "want a list of waivers"},
		{"waivers:\n  - just a string\n", "want a map"},
	}
	for _, tt := range tests {
		if _, err := parseYAML(t, tt.doc); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.doc, err, tt.want)
		}
	}
	// The last day holds through its end, in UTC.
	w := checks.Waiver{Expires: "2026-12-01"}
	if Expired(w, now) || !Expired(w, now.Add(9*time.Hour)) {
		t.Error("a waiver expiring today must hold until midnight UTC, and no longer")
	}
}

func TestLoadDir(t *testing.T) {
	ws, err := LoadDir(context.Background(), "testdata/waivers.d", now, DefaultMaxDays)
	if err != nil || len(ws) != 2 || ws[0].Check != "firewall.exposed-services" || ws[1].Expires != "2026-12-15" ||
		!strings.HasSuffix(ws[1].Source, "20-ops.yml") {
		t.Fatalf("%+v %v", ws, err)
	}
	if ws, err := LoadDir(context.Background(), filepath.Join(t.TempDir(), "none"), now, DefaultMaxDays); err != nil || ws != nil {
		t.Errorf("missing directory: %v %v", ws, err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("waiver:\n  - check: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(context.Background(), dir, now, DefaultMaxDays); err == nil || !strings.Contains(err.Error(), "a.yaml: unknown key waiver") {
		t.Errorf("unknown top-level key: %v", err)
	}
	// A link or a FIFO planted in the directory is refused, not followed.
	dir = t.TempDir()
	if err := os.Symlink("/etc/shadow", filepath.Join(dir, "x.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(context.Background(), dir, now, DefaultMaxDays); err == nil {
		t.Error("a symlinked waivers file was read")
	}
}

// exposed is firewall.exposed-services failing for the given ports.
func exposed(ports ...string) checks.Finding {
	var ev []checks.Evidence
	for _, p := range ports {
		for _, addr := range []string{"0.0.0.0", "::"} {
			ev = append(ev, checks.Evidence{Subject: p + " on " + addr + " (python3, pid 812)", Key: "reachable", Value: true, OK: false})
		}
	}
	ev = append(ev, checks.Evidence{Subject: "22/tcp on 0.0.0.0 (sshd, pid 1)", Key: "reachable", Value: true, OK: true})
	return checks.Finding{Meta: checks.Meta{ID: "firewall.exposed-services", Severity: checks.Medium}, Status: checks.Fail, Evidence: ev}
}

func TestApply(t *testing.T) {
	tomorrow, yesterday := now.AddDate(0, 0, 1).Format(dateLayout), now.AddDate(0, 0, -1).Format(dateLayout)
	w := func(subject, expires string) checks.Waiver {
		return checks.Waiver{Check: "firewall.exposed-services", Subject: subject, Reason: "staging", AcceptedBy: "alice", Expires: expires, Source: "vigie.yaml"}
	}
	tests := []struct {
		name       string
		findings   []checks.Finding
		waivers    []checks.Waiver
		waived     bool
		waiversOK  bool
		waiversWhy string
	}{
		{"one port, waived until tomorrow", []checks.Finding{exposed("8080/tcp")}, []checks.Waiver{w("8080/tcp", tomorrow)}, true, true, ""},
		{"a second port still fails", []checks.Finding{exposed("8080/tcp", "9090/tcp")}, []checks.Waiver{w("8080/tcp", tomorrow)}, false, true, ""},
		{"both ports waived", []checks.Finding{exposed("8080/tcp", "9090/tcp")}, []checks.Waiver{w("8080/tcp", tomorrow), w("9090/tcp", tomorrow)}, true, true, ""},
		{"expired yesterday", []checks.Finding{exposed("8080/tcp")}, []checks.Waiver{w("8080/tcp", yesterday)}, false, false, "firewall.exposed-services 8080/tcp expired " + yesterday},
		{"the prefix of a port is no port", []checks.Finding{exposed("80800/tcp")}, []checks.Waiver{w("8080/tcp", tomorrow)}, false, false, "matches nothing"},
		{"the check passes: the waiver matches nothing", []checks.Finding{{Meta: checks.Meta{ID: "firewall.exposed-services"}, Status: checks.Pass}},
			[]checks.Waiver{w("8080/tcp", tomorrow)}, false, false, "firewall.exposed-services 8080/tcp matches nothing"},
		{"no subject: the whole check", []checks.Finding{exposed("8080/tcp", "9090/tcp")}, []checks.Waiver{w("", tomorrow)}, true, true, ""},
		{"check not in the run: not judged", []checks.Finding{{Meta: checks.Meta{ID: "ssh.password-auth"}, Status: checks.Fail}},
			[]checks.Waiver{w("8080/tcp", tomorrow)}, false, true, ""},
		{"check not in the run, expired: its date is judged", []checks.Finding{{Meta: checks.Meta{ID: "ssh.password-auth"}, Status: checks.Fail}},
			[]checks.Waiver{w("8080/tcp", yesterday)}, false, false, "firewall.exposed-services 8080/tcp expired " + yesterday},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Apply(tt.findings, tt.waivers, now)
			if len(got) != len(tt.findings)+1 || got[len(got)-1].ID != CheckID {
				t.Fatalf("findings %v", got)
			}
			if f := got[0]; (len(f.Waived) > 0) != tt.waived || f.Status != tt.findings[0].Status {
				t.Errorf("waived %v (status %s), want %v, status kept", f.Waived, f.Status, tt.waived)
			}
			v := got[len(got)-1]
			if (v.Status == checks.Pass) != tt.waiversOK || !strings.Contains(v.Reason, tt.waiversWhy) {
				t.Errorf("%s: %s %q, want ok %v, %q", CheckID, v.Status, v.Reason, tt.waiversOK, tt.waiversWhy)
			}
		})
	}
	// A file names evidence about itself, not about subjects in it: a
	// waiver for a sudoers file does not hide the next rule written there.
	sudo := func(subjects ...string) []checks.Finding {
		f := checks.Finding{Meta: checks.Meta{ID: "access.sudo-nopasswd"}, Status: checks.Fail}
		for _, s := range subjects {
			f.Evidence = append(f.Evidence, checks.Evidence{Subject: s, Key: "nopasswd", File: "/etc/sudoers.d/90-deploy", Line: 1})
		}
		return []checks.Finding{f}
	}
	fileWaiver := []checks.Waiver{{Check: "access.sudo-nopasswd", Subject: "/etc/sudoers.d/90-deploy", Reason: "r", AcceptedBy: "a", Expires: tomorrow}}
	if got := Apply(sudo("deploy"), fileWaiver, now); len(got[0].Waived) != 0 {
		t.Errorf("a file waiver hides a subject in the file: %+v", got[0])
	}
	if got := Apply(sudo(""), fileWaiver, now); len(got[0].Waived) != 1 {
		t.Errorf("a file waiver does not cover evidence about the file: %+v", got[0])
	}
	// A skipped check (an image cannot answer it) leaves its waiver unjudged.
	skipped := []checks.Finding{{Meta: checks.Meta{ID: "firewall.exposed-services"}, Status: checks.Skip}}
	if got := Apply(skipped, []checks.Waiver{w("8080/tcp", tomorrow)}, now); got[1].Status != checks.Pass {
		t.Errorf("a skipped check's waiver judged: %+v", got[1])
	}
	// No waiver, no finding about waivers.
	if got := Apply([]checks.Finding{exposed("8080/tcp")}, nil, now); len(got) != 1 {
		t.Errorf("%d findings without waivers", len(got))
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("waivers:\n  - check: a.b\n    subject: 8080/tcp\n    reason: r\n    accepted_by: x\n    expires: 2026-12-02\n"))
	f.Add([]byte("waivers:\n  - {check: a, reason: r, accepted_by: x, expires: \"2026-12-31\"}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m map[string]any
		if yaml.Unmarshal(b, &m) != nil {
			return
		}
		ws, err := Parse(m["waivers"], "f", now, DefaultMaxDays)
		if err != nil {
			return
		}
		for _, w := range ws {
			if w.Check == "" || w.Reason == "" || w.AcceptedBy == "" {
				t.Fatalf("a waiver without its required keys: %+v", w)
			}
			if _, err := time.Parse(dateLayout, w.Expires); err != nil {
				t.Fatalf("a waiver with a bad date: %+v", w)
			}
		}
	})
}
