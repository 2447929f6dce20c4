package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/vigie-agent/vigie/agent/report"
)

// TestDiff: the reports of an sshd left as Debian ships it and of one
// hardened (the fixture trees, read from files only): from the first to
// the second the SSH checks are resolved and nothing regresses (exit 0);
// the other way round they fail again (exit 1).
func TestDiff(t *testing.T) {
	dir := t.TempDir()
	save := func(tree string) string {
		t.Helper()
		code, out, errOut := runVigie(t, "check", "--config", "testdata/offline.yaml", "--path.root", tree, "--only", "ssh", "--json")
		if code > 1 {
			t.Fatalf("check %s: exit %d: %s", tree, code, errOut)
		}
		p := filepath.Join(dir, filepath.Base(tree)+".json")
		if err := os.WriteFile(p, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	before, after := save("testdata/default"), save("testdata/hardened")

	code, out, errOut := runVigie(t, "diff", before, after)
	if code != 0 || !regexp.MustCompile(`(?m)^resolved +high +ssh\.password-auth +pass +fail `).MatchString(out) || !strings.Contains(out, "; 0 regression(s)") {
		t.Errorf("diff before after: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runVigie(t, "diff", "--json", after, before)
	var d report.Diff
	if err := json.Unmarshal([]byte(out), &d); err != nil || code != 1 || d.Schema != report.DiffSchema || d.Regressions == 0 {
		t.Fatalf("diff after before: exit %d, %v\n%s", code, err, out)
	}
	for _, c := range d.Changes {
		if c.Kind != report.Failing || !strings.HasPrefix(c.Finding.ID, "ssh.") {
			t.Errorf("reverse change %s %s", c.Kind, c.Finding.ID)
		}
	}
	if code, out, _ := runVigie(t, "diff", before, before); code != 0 || !strings.Contains(out, "no change; 0 regression(s)") {
		t.Errorf("diff of a report with itself: exit %d\n%s", code, out)
	}

	// What cannot be a report is a usage error, said on one line.
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"schema":"other/v9","findings":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("root:$y$j9T$s3cret:19000::::::\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, errOut := runVigie(t, "diff", secret, after); strings.Contains(errOut, "s3cret") || strings.Contains(errOut, "'r'") {
		t.Errorf("the error quotes the file: %q", errOut)
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, []byte(`{"schema":"vigie.report/v1","findings":[{"evidence":[`+strings.Repeat(`{},`, 1<<20)+`{}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"diff", "/dev/null", after}, {"diff", big, after}, {"diff", bad, after}, {"diff", before, filepath.Join(dir, "none.json")}, {"diff", before}, {"diff", fifo, after}, {"diff", "-", "-"}} {
		if code, _, errOut := runVigie(t, args...); code != 2 || !strings.HasPrefix(errOut, "vigie: ") {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
}
