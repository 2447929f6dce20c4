package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMissingFailsWhereRequired runs a test that lacks a component twice
// in a child process: it skips by default, and fails, naming the
// component, with VIGIE_REQUIRE_REAL=1.
func TestMissingFailsWhereRequired(t *testing.T) {
	if os.Getenv("VIGIE_TESTENV_CHILD") == "1" {
		Commands(t, "apt-get install nothing", "vigie-no-such-program")
		return
	}
	run := func(require string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingFailsWhereRequired$", "-test.v")
		cmd.Env = append(os.Environ(), "VIGIE_TESTENV_CHILD=1", RequireVar+"="+require)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("")
	if err != nil || !strings.Contains(out, "--- SKIP") || !strings.Contains(out, "needs vigie-no-such-program") {
		t.Fatalf("without %s: %v\n%s", RequireVar, err, out)
	}
	out, err = run("1")
	if err == nil || !strings.Contains(out, "--- FAIL") || !strings.Contains(out, "needs vigie-no-such-program (apt-get install nothing)") {
		t.Fatalf("with %s=1: %v\n%s", RequireVar, err, out)
	}
}
