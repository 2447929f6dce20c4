package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vigie-agent/vigie/agent/config"
	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/units"
	"github.com/vigie-agent/vigie/internal/atomicfile"
	"github.com/vigie-agent/vigie/internal/printable"
	"github.com/vigie-agent/vigie/remediations"
)

// A change that can cut the operator off is kept only once confirmed. The
// vigie process that waits for the confirmation can die with its session
// (SIGHUP, kill -9, a closed laptop), so before the change is made a
// revert is armed outside it: a transient systemd timer (a detached
// process where systemd does not run) that runs `vigie undo --unconfirmed
// RUN` once the window is over. That command takes the one lock, so while
// the waiting vigie lives it runs only after it, and it then does nothing
// to a run that was confirmed or already undone. Files of the run's
// backup directory say where it stands:
const (
	confirmedFile = "confirmed" // written when the operator keeps the change
	deadlineFile  = "deadline"  // when the window ends, once the change is in force
	revertPIDFile = "revert.pid"
	// guardFile marks a run that no window protects, whose revert is
	// armed all the same (armGuard): it puts back the run only if the run
	// was interrupted, and keeps it once applied and verified.
	guardFile = "guard"
)

// A guard's revert fires at once and waits for the lock, which the fix
// holds to its end; guardLimit bounds how long it waits, long enough for
// the longest run (a disks run re-creating large scratch disks).
const (
	guardDelay = time.Second
	guardLimit = time.Hour
)

// revertUnit names the transient timer and service that revert run.
func revertUnit(run string) string { return "vigie-revert-" + run }

// A transient timer lives in /run: a reboot inside the window (the
// operator, locked out by a firewall change, restarts the instance from
// the provider's console) would take it away and keep the change. So a
// boot job of the same command is left in the unit directory for as long
// as the window is open, and removed with the timer.
const bootJobPrefix = "vigie-window-"

// bootUnitDir is where the boot jobs go, and unitsLive whether systemd
// runs the host; tests point them elsewhere.
var (
	bootUnitDir = units.SystemDir
	unitsLive   = units.Live
)

func bootJob(run string) string { return bootJobPrefix + run + ".service" }

// armBoot leaves the boot job of run's revert. It runs once the units
// that put the change in force at boot have started, so the undo finds
// them to reactivate.
func armBoot(argv []string, run string, guard bool) error {
	j := units.BootJob{
		Name:        bootJob(run),
		Description: "vigie: undo run " + run + " after a reboot, unless it was confirmed",
		After:       []string{"ssh.service", "ssh.socket", "sshd.service", "nftables.service", "netfilter-persistent.service", "vigie-firewall.service", "network.target"},
		Argv:        argv,
		Comment: "Left by `vigie fix` while run " + run + " waits for its confirmation, so that a reboot inside\n" +
			"the confirm window does not keep an unconfirmed change. vigie removes it once the run is\n" +
			"confirmed or undone.",
	}
	if guard {
		j.Description = "vigie: put back run " + run + " after a reboot, should it have been interrupted"
		j.Comment = "Left by `vigie fix` while run " + run + " is applied, so that a reboot (a power cut, a reset)\n" +
			"half way through it does not leave the host half changed. vigie removes it once the run is\n" +
			"applied and verified, or rolled back."
	}
	return units.InstallBootJob(bootUnitDir, j)
}

// dropBoot removes the boot job of run.
func dropBoot(run string) error { return units.RemoveBootJob(bootUnitDir, bootJob(run)) }

// sweepBoot removes the boot jobs whose run no longer waits: confirmed,
// undone, rolled back, or never started and past its window. It runs
// under the lock, where no fix is arming one.
func sweepBoot(e *remediations.Engine) {
	names, err := units.BootJobs(bootUnitDir, bootJobPrefix)
	if err != nil || len(names) == 0 {
		return
	}
	runs, err := e.Runs()
	if err != nil {
		return
	}
	state := map[string]string{}
	for _, m := range runs {
		state[m.Run] = m.State
	}
	for _, n := range names {
		run := strings.TrimSuffix(strings.TrimPrefix(n, bootJobPrefix), ".service")
		switch st, ok := state[run]; {
		case ok && st == remediations.StateApplying,
			ok && st == remediations.StateApplied && !isConfirmed(e, run) && !isGuarded(e, run):
			continue // still waiting: its revert needs it
		case !ok && windowOpen(e, run):
			continue
		}
		_ = dropBoot(run)
	}
}

// windowOpen reports whether a run without a journal may still be in its
// window: its backup directory is younger than the longest window.
func windowOpen(e *remediations.Engine, run string) bool {
	fi, err := os.Stat(filepath.Join(e.Dir, run))
	return err == nil && time.Since(fi.ModTime()) < time.Hour
}

// armRevert arms the revert of run, to fire after window. Nothing is
// changed when it cannot be armed.
func armRevert(ctx context.Context, e *remediations.Engine, env *host.Env, argv []string, run string, window time.Duration) error {
	return armUnit(ctx, e, env, argv, run, window, window+remediations.RevertTimeout+time.Minute, false)
}

// armGuard arms the revert of a run that no window protects: should
// vigie die half way (kill -9, the OOM killer, a reboot), it puts back
// what the run changed as soon as the lock is free, or at the next boot,
// instead of leaving the host half changed until vigie runs again. Once
// the run is applied and verified, or rolled back, it has nothing to do.
func armGuard(ctx context.Context, e *remediations.Engine, env *host.Env, argv []string, run string) error {
	dir := filepath.Join(e.Dir, run)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, guardFile), []byte("interrupted only\n"), 0o600); err != nil {
		return err
	}
	return armUnit(ctx, e, env, argv, run, guardDelay, guardLimit+remediations.RevertTimeout, true)
}

// revertedFile marks a run its armed revert put back, with no operator
// there to see it: a plain `vigie undo` after it must not go on to the
// run before (see Undo).
const revertedFile = "reverted"

func markReverted(e *remediations.Engine, run string) { _ = mark(e, run, revertedFile) }

func isReverted(e *remediations.Engine, run string) bool { return marked(e, run, revertedFile) }

func isGuarded(e *remediations.Engine, run string) bool { return marked(e, run, guardFile) }

// mark leaves one of the files that say where a run stands (confirmed,
// reverted), holding when.
func mark(e *remediations.Engine, run, name string) error {
	return atomicfile.Write(filepath.Join(e.Dir, run, name), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600)
}

// marked reports whether run's directory holds that file.
func marked(e *remediations.Engine, run, name string) bool {
	_, err := os.Stat(filepath.Join(e.Dir, run, name))
	return err == nil
}

// armUnit starts `argv run` after delay, outside this process, for at most
// limit, and leaves its boot job.
func armUnit(ctx context.Context, e *remediations.Engine, env *host.Env, argv []string, run string, delay, limit time.Duration, guard bool) error {
	if len(argv) == 0 {
		return errors.New("no command to revert the change with")
	}
	cmd := append(append([]string{}, argv...), run)
	if unitsLive(env) {
		if err := armBoot(cmd, run, guard); err != nil {
			_ = dropBoot(run)
			return err
		}
		what := "vigie: undo run " + run + " unless it is confirmed"
		if guard {
			what = "vigie: put back run " + run + " should vigie die before it ends"
		}
		if err := units.ArmTimer(ctx, revertUnit(run), what, delay, limit, cmd); err != nil {
			_ = dropBoot(run)
			return err
		}
		return nil
	}
	// No systemd: a process of its own session, which no terminal hangup
	// reaches, sleeps out the delay.
	dir := filepath.Join(e.Dir, run)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	sh := exec.Command("/bin/sh", append([]string{"-c", `sleep "$0" && exec "$@"`, strconv.Itoa(int(delay.Seconds()) + 1)}, cmd...)...)
	sh.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := sh.Start(); err != nil {
		return fmt.Errorf("start the revert of run %s: %w", run, err)
	}
	pid := sh.Process.Pid
	_ = sh.Process.Release()
	return atomicfile.Write(filepath.Join(dir, revertPIDFile), []byte(strconv.Itoa(pid)+"\n"), 0o600)
}

// disarm stops the armed revert of run: the change was confirmed or
// undone already. The caller holds the lock, so the revert's service, if
// it fired, only waits for it and is stopped too.
func disarm(ctx context.Context, e *remediations.Engine, env *host.Env, run string) error {
	return disarmWith(ctx, e, env, run, units.Disarm)
}

// disarmUnlocked is disarm for a caller without the lock (`vigie fix
// --confirm` from another session): a revert already at work is left to
// end; it finds the run confirmed, or finishes an undo it began.
func disarmUnlocked(ctx context.Context, e *remediations.Engine, env *host.Env, run string) error {
	return disarmWith(ctx, e, env, run, units.DisarmTimer)
}

func disarmWith(ctx context.Context, e *remediations.Engine, env *host.Env, run string, stop func(context.Context, string) error) error {
	if unitsLive(env) {
		return errors.Join(dropBoot(run), stop(ctx, revertUnit(run)))
	}
	b, err := os.ReadFile(filepath.Join(e.Dir, run, revertPIDFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("%s holds no pid", revertPIDFile)
	}
	// The sleeping shell leads its own session and process group.
	if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// markConfirmed records that the operator keeps run: an armed revert that
// fires anyway leaves it alone.
func markConfirmed(e *remediations.Engine, run string) error { return mark(e, run, confirmedFile) }

// setDeadline records when the window of run ends.
func setDeadline(e *remediations.Engine, run string, at time.Time) error {
	return atomicfile.Write(filepath.Join(e.Dir, run, deadlineFile), []byte(at.UTC().Format(time.RFC3339Nano)+"\n"), 0o600)
}

func isConfirmed(e *remediations.Engine, run string) bool { return marked(e, run, confirmedFile) }

// lockWait is how often UndoUnconfirmed tries the lock while a fix holds it.
const lockWait = time.Second

// UndoUnconfirmed is what an armed revert runs once its window is over:
// it waits for the lock (the vigie that waits for the confirmation holds
// it to the end of its window), then undoes run unless it was confirmed
// or is no longer applied. A run the vigie process left half applied is
// reverted as an interrupted one. Its window is respected: before the
// deadline the change waits for a confirmation from another session.
func UndoUnconfirmed(ctx context.Context, r *Run, out io.Writer, run string) error {
	e := engine(r.Config)
	if run == "" || strings.ContainsAny(run, "/\x00") {
		return fmt.Errorf("undo --unconfirmed: no run %q", run)
	}
	for {
		lock, err := remediations.TryLock(r.Config.StateDir)
		if errors.Is(err, remediations.ErrBusy) {
			select {
			case <-ctx.Done():
				if errors.Is(ctx.Err(), context.Canceled) {
					// Stopped by the fix that armed it (its run ended: it
					// disarms), or by systemd: nothing was done, which is
					// no failure of the unit.
					fmt.Fprintf(out, "Stopped while the lock was held: nothing done to run %s.\n", printable.Line(run, report.IDMax))
					return nil
				}
				return fmt.Errorf("undo --unconfirmed %s: %w", run, ctx.Err())
			case <-time.After(lockWait):
				continue
			}
		}
		if err != nil {
			return err
		}
		wait, err := undoUnconfirmed(ctx, r, e, out, run)
		if err == nil && wait <= 0 && unitsLive(r.Env) {
			// Done with: confirmed, undone, or nothing to undo. A failed
			// undo keeps its boot job, to be tried again at the next boot.
			if err := dropBoot(run); err != nil {
				fmt.Fprintf(out, "The boot job %s could not be removed: %s\n", bootJob(run), printable.Line(err.Error(), report.LogLineMax))
			}
		}
		lock.Unlock()
		if err != nil || wait <= 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("undo --unconfirmed %s: %w", run, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// undoUnconfirmed does one attempt under the lock; wait is positive when
// the window is not over yet.
func undoUnconfirmed(ctx context.Context, r *Run, e *remediations.Engine, out io.Writer, run string) (time.Duration, error) {
	id := printable.Line(run, report.IDMax)
	if isConfirmed(e, run) {
		fmt.Fprintf(out, "Run %s was confirmed: kept.\n", id)
		return 0, nil
	}
	runs, err := e.Runs()
	if err != nil {
		return 0, err
	}
	var m *remediations.Manifest
	for _, x := range runs {
		if x.Run == run {
			m = x
		}
	}
	switch {
	case m == nil:
		fmt.Fprintf(out, "Run %s never started: nothing to undo.\n", id)
		return 0, nil
	case m.State == remediations.StateApplying:
		done, err := recoverInterrupted(ctx, e, r.Env, activate(r.Remediations, r.Env), out)
		for _, d := range done {
			markReverted(e, d)
		}
		return 0, err
	case m.State != remediations.StateApplied:
		fmt.Fprintf(out, "Run %s is %s: nothing to undo.\n", id, m.State)
		return 0, nil
	case isGuarded(e, run):
		fmt.Fprintf(out, "Run %s was applied and verified: kept.\n", id)
		return 0, nil
	}
	if b, err := os.ReadFile(filepath.Join(e.Dir, run, deadlineFile)); err == nil {
		if at, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b))); err == nil && time.Until(at) > 0 {
			return time.Until(at), nil
		}
	}
	if _, err := e.Undo(ctx, run, activate(r.Remediations, r.Env)); err != nil {
		return 0, fmt.Errorf("undo unconfirmed run %s: %w", run, err)
	}
	markReverted(e, run)
	fmt.Fprintf(out, "Run %s (%s) was not confirmed in time: undone.\n", id, printable.Line(m.Area, report.IDMax))
	return 0, nil
}

// pendingFile is what `vigie fix --confirm` reads: the run waiting, and
// whether its confirmation must come over a connection opened after the
// change (then "new-session-after UNIXNANO").
func writePending(cfg config.Config, run string, newSessionAfter time.Time) error {
	s := run + "\n"
	if !newSessionAfter.IsZero() {
		s += "new-session-after " + strconv.FormatInt(newSessionAfter.UnixNano(), 10) + "\n"
	}
	return atomicfile.Write(filepath.Join(cfg.StateDir, "pending-confirm"), []byte(s), 0o600)
}

// runningCommands lists the command scopes at work; tests replace it.
var runningCommands = units.Running

// commandsWait bounds how long a revert waits for the commands of the
// vigie it reverts: the longest of them unmounts a filesystem or turns a
// swap off under memory pressure.
var commandsWait = 15 * time.Minute

// waitCommands waits until no command a vigie started runs any more (see
// remediations.CommandScopePrefix): called under the lock before the
// revert of an interrupted run, where any still at work belongs to the
// vigie that was interrupted and would change the host after the revert
// looked at it. Past commandsWait the revert goes on, and says so.
func waitCommands(ctx context.Context, env *host.Env, out io.Writer) {
	if !unitsLive(env) {
		return
	}
	deadline := time.Now().Add(commandsWait)
	said := false
	for {
		left, err := runningCommands(ctx, remediations.CommandScopePrefix+"*.scope")
		if err != nil || len(left) == 0 {
			return
		}
		if !said {
			fmt.Fprintf(out, "Waiting for %s, started by the vigie that was interrupted, to end.\n", printable.Line(strings.Join(left, ", "), report.LogLineMax))
			said = true
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(out, "Still running after %s: %s; reverting all the same.\n", commandsWait, printable.Line(strings.Join(left, ", "), report.LogLineMax))
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// recoverInterrupted reverts the runs a vigie left half applied, once the
// commands it left running have ended, and names each: what fix, undo
// and an armed revert do first, under the lock.
func recoverInterrupted(ctx context.Context, e *remediations.Engine, env *host.Env, act func(context.Context, string) error, out io.Writer) ([]string, error) {
	if interrupted(e) {
		waitCommands(ctx, env, out)
	}
	done, err := e.Recover(ctx, act)
	for _, id := range done {
		fmt.Fprintf(out, "Reverted run %s, interrupted before it finished.\n", printable.Line(id, report.IDMax))
	}
	return done, err
}

// interrupted reports whether a run was left half applied, for Recover.
func interrupted(e *remediations.Engine) bool {
	runs, err := e.Runs()
	if err != nil {
		return false
	}
	for _, m := range runs {
		if m.State == remediations.StateApplying {
			return true
		}
	}
	return false
}
