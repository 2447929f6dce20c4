package agent

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/agent/config"
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/remediations"
)

// windowRun is a Run over one file remediation whose change can cut the
// operator off, in a state directory of its own.
func windowRun(t *testing.T) (*Run, string) {
	t.Helper()
	cfg := config.Defaults()
	cfg.StateDir = t.TempDir()
	target := filepath.Join(t.TempDir(), "sshd_config")
	if err := os.WriteFile(target, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cat, err := checks.NewCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	return &Run{Config: cfg, Env: host.DefaultEnv(), Catalogue: cat,
		Remediations: []remediations.Remediation{&cutOffRemediation{fileRemediation{path: target}}}}, target
}

// applyRun applies the remediation's plan as a fix would, before its window.
func applyRun(t *testing.T, r *Run) string {
	t.Helper()
	p, err := r.Remediations[0].Plan(context.Background(), r.Env, remediations.Request{})
	if err != nil {
		t.Fatal(err)
	}
	run, err := engine(r.Config).Apply(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func content(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestUndoUnconfirmed: what the armed revert does once it fires, for each
// state a run can be left in by a vigie that died waiting.
func TestUndoUnconfirmed(t *testing.T) {
	ctx := context.Background()
	t.Run("applied, window over: undone", func(t *testing.T) {
		r, target := windowRun(t)
		run := applyRun(t, r)
		var out bytes.Buffer
		if err := UndoUnconfirmed(ctx, r, &out, run); err != nil {
			t.Fatal(err)
		}
		if got := content(t, target); got != "old\n" || !strings.Contains(out.String(), "was not confirmed in time: undone") {
			t.Errorf("file %q, output %q", got, out.String())
		}
	})
	t.Run("confirmed: kept", func(t *testing.T) {
		r, target := windowRun(t)
		run := applyRun(t, r)
		if err := markConfirmed(engine(r.Config), run); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := UndoUnconfirmed(ctx, r, &out, run); err != nil {
			t.Fatal(err)
		}
		if got := content(t, target); got != "new\n" {
			t.Errorf("a confirmed change was undone: %q", got)
		}
	})
	t.Run("window not over: waits for it, then undoes", func(t *testing.T) {
		r, target := windowRun(t)
		run := applyRun(t, r)
		if err := setDeadline(engine(r.Config), run, time.Now().Add(700*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := UndoUnconfirmed(ctx, r, &bytes.Buffer{}, run); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 600*time.Millisecond {
			t.Errorf("undone after %s, before the window's end", d)
		}
		if got := content(t, target); got != "old\n" {
			t.Errorf("after the window: %q", got)
		}
	})
	t.Run("the waiting fix holds the lock: waits for it", func(t *testing.T) {
		r, target := windowRun(t)
		run := applyRun(t, r)
		held, err := remediations.TryLock(r.Config.StateDir)
		if err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		defer cancel()
		if err := UndoUnconfirmed(short, r, &bytes.Buffer{}, run); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("under another holder's lock: %v", err)
		}
		if got := content(t, target); got != "new\n" {
			t.Errorf("changed under another holder's lock: %q", got)
		}
		// The waiting fix confirms, then lets go.
		if err := markConfirmed(engine(r.Config), run); err != nil {
			t.Fatal(err)
		}
		held.Unlock()
		if err := UndoUnconfirmed(ctx, r, &bytes.Buffer{}, run); err != nil {
			t.Fatal(err)
		}
		if got := content(t, target); got != "new\n" {
			t.Errorf("a change confirmed while the revert waited was undone: %q", got)
		}
	})
	t.Run("left half applied: reverted as interrupted", func(t *testing.T) {
		r, target := windowRun(t)
		p, _ := r.Remediations[0].Plan(ctx, r.Env, remediations.Request{})
		p.Run = remediations.NewRunID()
		e := engine(r.Config)
		e.AfterStep = func(step string) error {
			if strings.HasPrefix(step, "write ") {
				return errKilled
			}
			return nil
		}
		if _, err := e.Apply(ctx, p); !errors.Is(err, errKilled) {
			t.Fatalf("apply: %v", err)
		}
		// A crash leaves the journal at "applying", the file written: the
		// rollback above already restored it, so write it again as the
		// crash would have left it and mark the run applying.
		markApplying(t, e, p.Run)
		if err := os.WriteFile(target, []byte("new\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := UndoUnconfirmed(ctx, r, &out, p.Run); err != nil {
			t.Fatal(err)
		}
		if got := content(t, target); got != "old\n" || !strings.Contains(out.String(), "interrupted before it finished") {
			t.Errorf("file %q, output %q", got, out.String())
		}
	})
}

var errKilled = errors.New("killed")

// markApplying rewrites a run's journal state to applying, as a process
// killed half way leaves it.
func markApplying(t *testing.T, e *remediations.Engine, run string) {
	t.Helper()
	p := filepath.Join(e.Dir, run, "manifest.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte(`"state": "rolled-back"`), []byte(`"state": "applying"`), 1)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestNewConnectionConfirms: for a change only a new connection proves,
// the answer in the session that made it is not taken, a confirmation
// from a session older than the change is refused, and one from a newer
// session keeps it.
func TestNewConnectionConfirms(t *testing.T) {
	cfg := config.Defaults()
	cfg.StateDir = t.TempDir()
	old := sessionStart
	t.Cleanup(func() { sessionStart = old })
	yes := func() <-chan bool { ch := make(chan bool, 1); ch <- true; return ch }
	if confirmed(context.Background(), cfg, &bytes.Buffer{}, "run-1", FixOptions{Window: 400 * time.Millisecond, Answer: yes}, true) {
		t.Error("the answer of the session the firewall change cannot cut was taken")
	}
	for _, tt := range []struct {
		name    string
		session time.Duration // when the confirming session began, relative to the change
		want    bool
	}{{"older session", -time.Hour, false}, {"newer session", time.Second, true}} {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan bool, 1)
			start := time.Now()
			sessionStart = func() (time.Time, bool) { return start.Add(tt.session), true }
			go func() {
				done <- confirmed(context.Background(), cfg, &bytes.Buffer{}, "run-2", FixOptions{Window: 3 * time.Second}, true)
			}()
			for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				if _, err := os.Stat(filepath.Join(cfg.StateDir, "pending-confirm")); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("nothing pending")
				}
			}
			err := ConfirmPending(cfg, &bytes.Buffer{})
			if (err == nil) != tt.want {
				t.Errorf("ConfirmPending: %v, want ok=%v", err, tt.want)
			}
			if got := <-done; got != tt.want {
				t.Errorf("kept = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestArmedRevertOutlivesItsSession: where systemd does not run, the
// revert is a process of its own session that fires after the window even
// though the process that armed it is gone; disarmed, it never fires.
func TestArmedRevertOutlivesItsSession(t *testing.T) {
	e := &remediations.Engine{Dir: t.TempDir()}
	env := &host.Env{Root: "/"} // not live: no systemd here
	marker := filepath.Join(t.TempDir(), "fired")
	argv := []string{"/bin/sh", "-c", `echo "$0" > ` + marker}
	if err := armRevert(context.Background(), e, env, argv, "run-fires", time.Second); err != nil {
		t.Fatal(err)
	}
	if err := armRevert(context.Background(), e, env, append(argv[:2:2], `echo "$0" > `+marker+`.2`), "run-disarmed", time.Second); err != nil {
		t.Fatal(err)
	}
	if err := disarm(context.Background(), e, env, "run-disarmed"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(marker); err == nil && strings.TrimSpace(string(b)) == "run-fires" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the armed revert did not fire")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
	if _, err := os.Stat(marker + ".2"); err == nil {
		t.Error("a disarmed revert fired")
	}
}

// bootJobs points the boot jobs at a directory of the test's and has the
// host count as run by systemd, for the boot jobs only.
func bootJobs(t *testing.T) string {
	t.Helper()
	dir, live := bootUnitDir, unitsLive
	t.Cleanup(func() { bootUnitDir, unitsLive = dir, live })
	bootUnitDir = t.TempDir()
	unitsLive = func(*host.Env) bool { return true }
	return bootUnitDir
}

func arm(t *testing.T, run string) {
	t.Helper()
	if err := armBoot([]string{"/usr/bin/vigie", "undo", "--unconfirmed"}, run, false); err != nil {
		t.Fatal(err)
	}
}

func hasBootJob(dir, run string) bool {
	_, err := os.Stat(filepath.Join(dir, bootJob(run)))
	_, lerr := os.Lstat(filepath.Join(dir, "multi-user.target.wants", bootJob(run)))
	return err == nil && lerr == nil
}

// TestBootJobFollowsTheWindow: the boot job that undoes an unconfirmed
// run after a reboot stays while the run waits, and goes once the run is
// confirmed, undone, or was never started.
func TestBootJobFollowsTheWindow(t *testing.T) {
	ctx := context.Background()
	t.Run("waiting, then confirmed", func(t *testing.T) {
		dir := bootJobs(t)
		r, _ := windowRun(t)
		run := applyRun(t, r)
		arm(t, run)
		e := engine(r.Config)
		sweepBoot(e)
		if !hasBootJob(dir, run) {
			t.Fatal("the sweep removed the boot job of a run still waiting for its confirmation")
		}
		if err := markConfirmed(e, run); err != nil {
			t.Fatal(err)
		}
		sweepBoot(e)
		if hasBootJob(dir, run) {
			t.Error("the boot job of a confirmed run is left")
		}
	})
	t.Run("the armed revert undoes it: gone", func(t *testing.T) {
		dir := bootJobs(t)
		r, target := windowRun(t)
		run := applyRun(t, r)
		arm(t, run)
		var out bytes.Buffer
		if err := UndoUnconfirmed(ctx, r, &out, run); err != nil {
			t.Fatal(err)
		}
		if content(t, target) != "old\n" || hasBootJob(dir, run) {
			t.Errorf("after the revert: file %q, boot job left %v; %s", content(t, target), hasBootJob(dir, run), out.String())
		}
	})
	t.Run("vigie undo: gone", func(t *testing.T) {
		dir := bootJobs(t)
		r, _ := windowRun(t)
		run := applyRun(t, r)
		arm(t, run)
		if err := Undo(ctx, r, io.Discard, run); err != nil {
			t.Fatal(err)
		}
		if hasBootJob(dir, run) {
			t.Error("the boot job of an undone run is left")
		}
	})
	t.Run("never started", func(t *testing.T) {
		dir := bootJobs(t)
		r, _ := windowRun(t)
		e := engine(r.Config)
		young, old := "20261201T000000Z-young", "20261201T000000Z-old"
		for _, run := range []string{young, old} {
			if err := os.MkdirAll(filepath.Join(e.Dir, run), 0o700); err != nil {
				t.Fatal(err)
			}
			arm(t, run)
		}
		long := time.Now().Add(-2 * time.Hour)
		if err := os.Chtimes(filepath.Join(e.Dir, old), long, long); err != nil {
			t.Fatal(err)
		}
		sweepBoot(e)
		if !hasBootJob(dir, young) || hasBootJob(dir, old) {
			t.Errorf("a run that may still be arming keeps its job (%v), one long gone loses it (%v)", hasBootJob(dir, young), !hasBootJob(dir, old))
		}
	})
}

// TestWindowWithoutTerminal: --confirm-window where no terminal answers
// (an orchestration tool's pipe): the prompt names the only way to keep
// the change, and without it the change is undone at the window's end.
func TestWindowWithoutTerminal(t *testing.T) {
	r, target := windowRun(t)
	var out bytes.Buffer
	code, err := Fix(context.Background(), r, &out, FixOptions{Yes: true, Window: 300 * time.Millisecond, Revert: []string{"/bin/true"}})
	if code != 1 || err != nil {
		t.Fatalf("exit %d, %v\n%s", code, err, out.String())
	}
	if !strings.Contains(out.String(), "Keep this change? Run `vigie fix --confirm` from another session within 300ms") ||
		!strings.Contains(out.String(), "demo: not confirmed within 300ms: undone.") || content(t, target) != "old\n" {
		t.Errorf("file %q, output:\n%s", content(t, target), out.String())
	}
}

// TestConfirmAfterTheUndo: the pending confirmation a reset left behind
// names a run undone since (by the boot job): `vigie fix --confirm` says
// nothing waits, and keeps nothing.
func TestConfirmAfterTheUndo(t *testing.T) {
	r, target := windowRun(t)
	run := applyRun(t, r)
	if err := writePending(r.Config, run, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := UndoUnconfirmed(context.Background(), r, io.Discard, run); err != nil {
		t.Fatal(err)
	}
	err := ConfirmPending(r.Config, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "run "+run+" is undone") {
		t.Errorf("ConfirmPending after the undo: %v", err)
	}
	if isConfirmed(engine(r.Config), run) || content(t, target) != "old\n" {
		t.Error("an undone run was recorded as confirmed")
	}
	if _, err := os.Stat(filepath.Join(r.Config.StateDir, "pending-confirm")); !os.IsNotExist(err) {
		t.Errorf("the stale pending confirmation is left: %v", err)
	}
}
