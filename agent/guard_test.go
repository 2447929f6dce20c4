package agent

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/agent/config"
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/remediations"
)

// The guard test runs this test binary again: as the fix that is killed
// half way (guardFixEnv set), and as the revert the fix armed (a run id
// as its argument, as `vigie undo --unconfirmed RUN` gets it).
const (
	guardFixEnv    = "VIGIE_TEST_GUARD_FIX"
	guardStateEnv  = "VIGIE_TEST_GUARD_STATE"
	guardTargetEnv = "VIGIE_TEST_GUARD_TARGET"
)

func guardRun(t *testing.T, state, target string) *Run {
	t.Helper()
	cfg := config.Defaults()
	cfg.StateDir = state
	cat, err := checks.NewCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	return &Run{Config: cfg, Env: &host.Env{Root: "/"}, Catalogue: cat, Remediations: []remediations.Remediation{&fileRemediation{path: target}}}
}

// guardRevert is the revert command line the fix arms.
func guardRevert() []string {
	return []string{os.Args[0], "-test.run=^TestGuardRestoresAKilledFix$"}
}

// TestGuardRestoresAKilledFix: a fix that no confirm window protects
// arms a revert all the same; killed with -9 half way (its file written,
// its journal at "applying"), the host gets its file back within seconds
// with nothing run by hand. A fix that ends keeps its change: the guard,
// disarmed, never fires.
func TestGuardRestoresAKilledFix(t *testing.T) {
	// The revert is the detached shell of a host without systemd, here as
	// everywhere the test runs: never a unit of the machine's systemd.
	live := unitsLive
	unitsLive = func(*host.Env) bool { return false }
	t.Cleanup(func() { unitsLive = live })
	state, target := os.Getenv(guardStateEnv), os.Getenv(guardTargetEnv)
	switch {
	case state != "" && len(flag.Args()) == 1: // the armed revert
		os.Unsetenv(FaultEnv)
		var out bytes.Buffer
		err := UndoUnconfirmed(context.Background(), guardRun(t, state, target), &out, flag.Args()[0])
		_ = os.WriteFile(filepath.Join(state, "revert.out"), append(out.Bytes(), []byte(errString(err))...), 0o600)
		return
	case os.Getenv(guardFixEnv) != "": // the fix, killed after its write
		_, _ = Fix(context.Background(), guardRun(t, state, target), &bytes.Buffer{}, FixOptions{Yes: true, Revert: guardRevert()})
		t.Fatal("not killed")
	}

	state, target = t.TempDir(), filepath.Join(t.TempDir(), "demo.conf")
	if err := os.WriteFile(target, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(t.TempDir(), "fix.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	fix := exec.Command(os.Args[0], "-test.run=^TestGuardRestoresAKilledFix$")
	fix.Env = append(os.Environ(), guardFixEnv+"=1", guardStateEnv+"="+state, guardTargetEnv+"="+target, FaultEnv+"=write ")
	fix.Stdout, fix.Stderr = log, log // a file: the revert it arms outlives it
	if err := fix.Run(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("the fix was not killed half way: %v", err)
	}
	if got := content(t, target); got != "new\n" {
		t.Fatalf("killed after its write, the fix left %q", got)
	}
	killed := time.Now()
	for deadline := killed.Add(20 * time.Second); content(t, target) != "old\n"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(state, "revert.out"))
			t.Fatalf("the killed fix's run is still half applied %s later; the revert said %q", time.Since(killed).Round(time.Second), b)
		}
	}
	t.Logf("the guard put the file back %s after the kill", time.Since(killed).Round(10*time.Millisecond))
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if b, _ := os.ReadFile(filepath.Join(state, "revert.out")); strings.Contains(string(b), "interrupted before it finished") {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the revert said %q", b)
		}
	}

	// The operator, back, types vigie undo: the run it means is put back
	// already, and no older run is undone in its place.
	var out bytes.Buffer
	if err := Undo(context.Background(), guardRun(t, state, target), &out, ""); err == nil || !strings.Contains(err.Error(), "was already put back by its armed revert") {
		t.Errorf("vigie undo after the armed revert: %v\n%s", err, out.String())
	}

	// A fix that ends: applied and verified, kept, and its guard disarmed
	// before it fires.
	if err := os.Remove(filepath.Join(state, "revert.out")); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	r := guardRun(t, state, target)
	os.Setenv(guardStateEnv, state) // for the revert, should it fire
	os.Setenv(guardTargetEnv, target)
	defer os.Unsetenv(guardStateEnv)
	defer os.Unsetenv(guardTargetEnv)
	if code, err := Fix(context.Background(), r, &out, FixOptions{Yes: true, Revert: guardRevert()}); code != 0 || err != nil {
		t.Fatalf("fix: exit %d, %v\n%s", code, err, out.String())
	}
	time.Sleep(guardDelay + 2*time.Second)
	if got := content(t, target); got != "new\n" {
		t.Errorf("a fix that ended was reverted: %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(state, "revert.out")); err == nil {
		t.Errorf("the guard of a fix that ended fired: %q", b)
	}
	runs, err := engine(r.Config).Runs()
	if err != nil {
		t.Fatal(err)
	}
	var last *remediations.Manifest
	for _, m := range runs {
		if m.State == remediations.StateApplied {
			last = m
		}
	}
	if last == nil || !isGuarded(engine(r.Config), last.Run) {
		t.Fatalf("no guarded applied run: %+v", runs)
	}
	// Fired all the same (its disarm failed, say), the guard keeps it.
	out.Reset()
	if err := UndoUnconfirmed(context.Background(), r, &out, last.Run); err != nil || !strings.Contains(out.String(), "was applied and verified: kept") || content(t, target) != "new\n" {
		t.Errorf("the guard of an applied run: %v %q", err, out.String())
	}
	// The newest run applied, a plain vigie undo undoes it.
	out.Reset()
	if err := Undo(context.Background(), r, &out, ""); err != nil || content(t, target) != "old\n" {
		t.Errorf("vigie undo of the applied run: %v\n%s", err, out.String())
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestWaitCommands: before the revert of an interrupted run, the commands
// its vigie left running (an umount still flushing) are waited for, and
// said; past the bound the revert goes on, saying so.
func TestWaitCommands(t *testing.T) {
	live, running, wait := unitsLive, runningCommands, commandsWait
	t.Cleanup(func() { unitsLive, runningCommands, commandsWait = live, running, wait })
	unitsLive = func(*host.Env) bool { return true }
	calls := 0
	runningCommands = func(context.Context, ...string) ([]string, error) {
		calls++
		if calls <= 2 {
			return []string{"vigie-command-812-3.scope"}, nil
		}
		return nil, nil
	}
	var out bytes.Buffer
	start := time.Now()
	waitCommands(context.Background(), host.DefaultEnv(), &out)
	if calls != 3 || time.Since(start) < 2*time.Second || !strings.Contains(out.String(), "Waiting for vigie-command-812-3.scope, started by the vigie that was interrupted, to end.") {
		t.Errorf("%d calls in %s: %q", calls, time.Since(start), out.String())
	}
	runningCommands = func(context.Context, ...string) ([]string, error) { return []string{"vigie-command-812-4.scope"}, nil }
	commandsWait = 1500 * time.Millisecond
	out.Reset()
	waitCommands(context.Background(), host.DefaultEnv(), &out)
	if !strings.Contains(out.String(), "reverting all the same") {
		t.Errorf("past the bound: %q", out.String())
	}
}
