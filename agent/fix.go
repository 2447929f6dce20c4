package agent

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vigie-agent/vigie/agent/config"
	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/units"
	"github.com/vigie-agent/vigie/internal/printable"
	"github.com/vigie-agent/vigie/remediations"
)

// FixOptions are the flags of `vigie fix`.
type FixOptions struct {
	Only   []string
	DryRun bool
	Yes    bool
	Force  bool
	// AllowDestructive lets the disks remediation erase scratch
	// filesystems and swap to re-create them encrypted.
	AllowDestructive bool
	Confirm          func(prompt string) bool // asks the operator; nil means no
	// Window, when positive, keeps an applied change only if the operator
	// confirms it within that time (the prompt, or `vigie fix --confirm`
	// from another session); otherwise it is undone. Used when the
	// operator may be cut off by the change itself: over SSH.
	Window time.Duration
	// Answer reads the operator's answer to the confirmation prompt.
	Answer func() <-chan bool
	// Revert is the command line that undoes a run unless it was
	// confirmed (`vigie undo --unconfirmed`, the run id appended), armed
	// outside this process before a change that waits for confirmation.
	Revert []string
}

// Engine returns the remediation engine over the configured state
// directory, asking systemd for the units plans enable. Plans ask only
// where systemd runs; undo and recovery ask only for runs that enabled
// some.
func engine(cfg config.Config) *remediations.Engine {
	e := &remediations.Engine{Dir: filepath.Join(cfg.StateDir, "backups"), Units: units.Manager{}}
	if at := os.Getenv(FaultEnv); at != "" {
		e.AfterStep = killAt(at)
	}
	return e
}

// FaultEnv names the variable the fault-injection tests set: vigie kills
// itself with SIGKILL once a step of a run whose name starts with its value
// ("write ", "activate", "enable vigie-firewall.service") is done, as a
// crash, an OOM kill or a power cut would stop it there. Only a process
// started with it set is affected, and it changes nothing a crash could
// not.
const FaultEnv = "VIGIE_FAULT_KILL_AT"

// FaultHowEnv, set to "reset" beside FaultEnv, resets the machine at that
// step instead (the disks synced first, then sysrq b), as a power cut or
// the console's hard reset would: nothing vigie armed in /run survives.
const FaultHowEnv = "VIGIE_FAULT_HOW"

func killAt(at string) func(step string) error {
	reset := os.Getenv(FaultHowEnv) == "reset"
	return func(step string) error {
		if strings.HasPrefix(step, at) {
			if reset {
				syscall.Sync()
				_ = os.WriteFile("/proc/sys/kernel/sysrq", []byte("1\n"), 0)
				_ = os.WriteFile("/proc/sysrq-trigger", []byte("b"), 0)
			}
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
		return nil
	}
}

// activate reloads what an area's files configure, after an undo or the
// revert of an interrupted run.
func activate(list []remediations.Remediation, env *host.Env) func(ctx context.Context, area string) error {
	return func(ctx context.Context, area string) error {
		r, ok := remediations.Find(list, area)
		if !ok {
			return fmt.Errorf("no way to reactivate area %s", area)
		}
		return r.Activate(ctx, env)
	}
}

// notOnImage refuses to change an image tree: a fix applies to and
// verifies on a running system (its sshd, its kernel's ruleset, its
// services), which on an image would be the machine vigie runs on. A dry
// run, which changes nothing, may still show its plan.
func notOnImage(what string, env *host.Env) error {
	if !env.Image {
		return nil
	}
	return fmt.Errorf("%s: refused in %s: vigie %s changes a running system (its sshd, its kernel's ruleset, its services), and none of the image runs; check the image with vigie check, change it in its build (vigie fix --dry-run shows a plan)", what, checks.ImageMode(env.Root), what)
}

// Fix plans, shows and (when allowed) applies the remediations. It returns
// the exit status: 0 applied and verified or nothing to do, 1 a change failed
// and was rolled back, 2 vigie could not run.
func Fix(ctx context.Context, r *Run, out io.Writer, opt FixOptions) (int, error) {
	cfg, env := r.Config, r.Env
	if !opt.DryRun {
		if err := notOnImage("fix", env); err != nil {
			return 2, err
		}
	}
	areas := map[string]bool{}
	for _, o := range opt.Only {
		for _, a := range strings.Split(o, ",") {
			if a = strings.TrimSpace(a); a != "" {
				areas[a] = true
			}
		}
	}
	names := remediations.Names(r.Remediations)
	for a := range areas {
		if !slices.Contains(names, a) {
			return 2, config.Errorf("fix: no remediation for %q (available: %s)", a, strings.Join(names, ", "))
		}
	}
	e := engine(cfg)
	act := activate(r.Remediations, env)
	if !opt.DryRun {
		lock, err := remediations.TryLock(cfg.StateDir)
		if err != nil {
			return 2, fmt.Errorf("fix: %w", err)
		}
		defer lock.Unlock()
		_, err = recoverInterrupted(ctx, e, env, act, out)
		if unitsLive(env) {
			sweepBoot(e)
		}
		if err != nil {
			return 1, err
		}
	}
	req := remediations.Request{Force: opt.Force, AllowDestructive: opt.AllowDestructive}
	for _, rem := range r.Remediations {
		req.KeepOpen = append(req.KeepOpen, rem.KeepOpen(ctx, env)...)
	}
	status := 0
	var sum summary
	for _, rem := range r.Remediations {
		area := rem.Name()
		if len(areas) > 0 && !areas[area] {
			continue
		}
		p, err := rem.Plan(ctx, env, req)
		if err != nil {
			return 2, err
		}
		if err := ShowPlan(out, p); err != nil {
			return 2, err
		}
		if p.Empty() {
			continue
		}
		if opt.DryRun || (!opt.Yes && (opt.Confirm == nil || !opt.Confirm(fmt.Sprintf("Apply these %d change(s) to %s? [y/N] ", p.Changes(), area)))) {
			flag := ""
			if rem.Destructive() && opt.AllowDestructive {
				flag = " --allow-destructive"
			}
			fmt.Fprintf(out, "Not applied (dry run). `vigie fix --yes --only %s%s` applies it.\n", area, flag)
			continue
		}
		// Only a change that can cut the operator off waits for an
		// answer; the others are not undone for want of one. Its revert
		// is armed outside this process first, so a session that dies
		// with this process (SIGHUP, kill -9) still gets it back.
		window := opt.Window > 0 && rem.CanCutOff()
		// The others are guarded: should this process die half way, a
		// revert armed the same way puts the run back at once (or at the
		// next boot). Without it the next vigie fix or undo still would,
		// so a guard that cannot be armed is said, not a refusal.
		guard := !window && rem.RestoresInterrupted() && len(opt.Revert) > 0
		if window || guard {
			p.Run = remediations.NewRunID()
		}
		if window {
			if err := armRevert(ctx, e, env, opt.Revert, p.Run, opt.Window); err != nil {
				fmt.Fprintf(out, "%s: not applied: the revert that protects an unconfirmed change could not be armed: %s\n", area, printable.Line(err.Error(), report.LogLineMax))
				sum.add("not applied", area)
				status = 1
				continue
			}
		}
		if guard {
			if err := armGuard(ctx, e, env, opt.Revert, p.Run); err != nil {
				fmt.Fprintf(out, "%s: the revert that would put the run back should vigie die half way could not be armed (the next vigie fix or undo would): %s\n",
					area, printable.Line(err.Error(), report.LogLineMax))
				guard = false
			}
		}
		run, err := e.Apply(ctx, p)
		if err != nil {
			fmt.Fprintf(out, "%s: FAILED: %s\n", area, printable.Line(err.Error(), report.LogLineMax))
			if window || guard {
				_ = disarm(context.WithoutCancel(ctx), e, env, p.Run)
				// Refused before its journal was written (a link in the
				// plan, a backup that failed): no run to keep, only the
				// files of its revert.
				if _, err := os.Stat(filepath.Join(e.Dir, p.Run, "manifest.json")); errors.Is(err, fs.ErrNotExist) {
					_ = os.RemoveAll(filepath.Join(e.Dir, p.Run))
				}
			}
			sum.add("failed, every change of its run rolled back", area)
			status = 1
			continue
		}
		if guard {
			// Applied and verified: the guard, should it fire all the
			// same, keeps the run (its guard file says so).
			_ = disarm(context.WithoutCancel(ctx), e, env, run)
		}
		fmt.Fprintf(out, "%s: applied and verified (%s).\n", area, rem.Applied(run, filepath.Join(e.Dir, run)))
		showArea(ctx, r, out, area)
		if !window {
			sum.add("changed, verified and kept", area)
			continue
		}
		if confirmed(ctx, cfg, out, run, opt, rem.NeedsNewConnection()) {
			if err := markConfirmed(e, run); err != nil {
				fmt.Fprintf(out, "%s: confirmed, but recording it failed, so the armed revert may still undo it: %s\n", area, printable.Line(err.Error(), report.LogLineMax))
				status = 1
			}
			if err := disarm(context.WithoutCancel(ctx), e, env, run); err != nil {
				fmt.Fprintf(out, "%s: confirmed, but the armed revert could not be stopped (it will find the run confirmed and keep it): %s\n", area, printable.Line(err.Error(), report.LogLineMax))
			}
			sum.add("changed, verified, confirmed and kept", area)
			continue
		}
		if _, err := e.Undo(ctx, run, act); err != nil {
			fmt.Fprintf(out, "%s: not confirmed, and the undo FAILED (the armed revert tries again): %s\n", area, printable.Line(err.Error(), report.LogLineMax))
			sum.add("not confirmed, UNDO FAILED", area)
		} else {
			sum.add("not confirmed and undone", area)
			_ = disarm(context.WithoutCancel(ctx), e, env, run)
			if ctx.Err() != nil {
				fmt.Fprintf(out, "%s: interrupted before it was confirmed: undone.\n", area)
			} else {
				fmt.Fprintf(out, "%s: not confirmed within %s: undone.\n", area, opt.Window)
			}
		}
		status = 1
	}
	sum.print(out)
	return status, nil
}

// summary says, at the end of a fix, what became of each area: a run's
// rollback reverts that run only, and an operator reading a long output
// must not take one area's "rolled back" for the whole fix.
type summary struct {
	order []string
	areas map[string][]string
}

func (s *summary) add(outcome, area string) {
	if s.areas == nil {
		s.areas = map[string][]string{}
	}
	if _, ok := s.areas[outcome]; !ok {
		s.order = append(s.order, outcome)
	}
	s.areas[outcome] = append(s.areas[outcome], area)
}

func (s *summary) print(out io.Writer) {
	if len(s.order) == 0 {
		return
	}
	parts := make([]string, len(s.order))
	for i, o := range s.order {
		parts[i] = o + ": " + strings.Join(s.areas[o], ", ")
	}
	fmt.Fprintf(out, "Summary: %s.\n", strings.Join(parts, "; "))
}

// sessionStart says when the SSH session of this process began; tests
// replace it.
var sessionStart = func() (time.Time, bool) { return host.SSHSessionStart("/proc") }

// confirmed waits for the operator to keep run: an answer to the prompt,
// or `vigie fix --confirm` from another session. When only a new
// connection proves the change (newConnection), the answer here is not
// taken: this session lives on through conntrack whatever the change did.
func confirmed(ctx context.Context, cfg config.Config, out io.Writer, run string, opt FixOptions, newConnection bool) bool {
	e := engine(cfg)
	flag := filepath.Join(cfg.StateDir, "confirm-"+run)
	pending := filepath.Join(cfg.StateDir, "pending-confirm")
	deadline := time.Now().Add(opt.Window)
	_ = setDeadline(e, run, deadline)
	// Atomic: a confirming session must never read a half-written run id.
	var after time.Time
	if newConnection {
		after = time.Now()
	}
	_ = writePending(cfg, run, after)
	defer os.Remove(pending)
	defer os.Remove(flag)
	kept := func() bool {
		_, err := os.Stat(flag)
		return err == nil || isConfirmed(e, run)
	}
	var answers <-chan bool
	if newConnection {
		fmt.Fprintf(out, "Keep this change? Open a NEW SSH session and run `sudo vigie fix --confirm` within %s: this session proves nothing, it survives on the connection tracking whatever the new ruleset says. Without it the change is undone. ", opt.Window)
	} else if opt.Answer != nil {
		fmt.Fprintf(out, "Keep this change? Answer y, or run `vigie fix --confirm` from another session, within %s; anything else undoes it. ", opt.Window)
		answers = opt.Answer()
	} else {
		fmt.Fprintf(out, "Keep this change? Run `vigie fix --confirm` from another session within %s; without it the change is undone.\n", opt.Window)
	}
	timer := time.NewTimer(opt.Window)
	defer timer.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case ok := <-answers:
			return ok
		case <-tick.C:
			if kept() {
				fmt.Fprintln(out, "confirmed from another session.")
				return true
			}
		case <-timer.C:
			fmt.Fprintln(out)
			return kept()
		case <-ctx.Done():
			return kept()
		}
	}
}

// ConfirmPending confirms the change a `vigie fix` is waiting on, from
// another session. When the change must be proven over a connection opened
// after it, a session older than the change is refused. The confirmation
// is recorded with the run and its armed revert stopped, so it holds even
// when the waiting vigie died with its session.
func ConfirmPending(cfg config.Config, out io.Writer) error {
	b, err := os.ReadFile(filepath.Join(cfg.StateDir, "pending-confirm"))
	if err != nil {
		return fmt.Errorf("no change is waiting for confirmation (%w)", err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	run := strings.TrimSpace(lines[0])
	if run == "" || strings.ContainsAny(run, "/\x00") {
		return fmt.Errorf("no change is waiting for confirmation (%q)", run)
	}
	for _, l := range lines[1:] {
		v, ok := strings.CutPrefix(strings.TrimSpace(l), "new-session-after ")
		if !ok {
			continue
		}
		ns, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("pending-confirm: %q", l)
		}
		if start, over := sessionStart(); over && start.Before(time.Unix(0, ns)) {
			return fmt.Errorf("this SSH session was opened before the change, so it proves nothing about new connections: open a new SSH session and run `vigie fix --confirm` from there")
		}
	}
	e := engine(cfg)
	// A pending file a reset left behind names a run the boot job has
	// undone since: confirming it would keep nothing.
	if runs, err := e.Runs(); err == nil {
		for _, m := range runs {
			if m.Run == run && m.State != remediations.StateApplied && m.State != remediations.StateApplying {
				_ = os.Remove(filepath.Join(cfg.StateDir, "pending-confirm"))
				return fmt.Errorf("no change is waiting for confirmation: run %s is %s", printable.Line(run, report.IDMax), m.State)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(cfg.StateDir, "confirm-"+run), nil, 0o600); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(e.Dir, run)); err == nil {
		if err := markConfirmed(e, run); err != nil {
			return err
		}
		_ = disarmUnlocked(context.Background(), e, host.DefaultEnv(), run)
	}
	fmt.Fprintf(out, "Run %s confirmed.\n", printable.Line(run, report.IDMax))
	return nil
}

// ShowPlan prints a plan as a reviewer reads it: what will change and why,
// a unified diff per file (secret files by size only), the commands it
// will run, and what will not be changed. A plan quotes the host (disk
// labels, package names, the lines of the files it changes), so every
// line is escaped and bounded: the diff line by line, keeping its shape.
func ShowPlan(w io.Writer, p *remediations.Plan) error {
	fmt.Fprintf(w, "== %s: %d change(s)\n", printable.Line(p.Area, report.IDMax), p.Changes())
	for _, r := range p.Refusals {
		fmt.Fprintf(w, "Not changed: %s\n", printable.Line(r, report.NoteMax))
	}
	for _, n := range p.Notes {
		fmt.Fprintln(w, printable.Line(n, report.NoteMax))
	}
	if len(p.Actions) > 0 {
		fmt.Fprintln(w, "\nSteps, run once the file changes below are written:")
		for i, a := range p.Actions {
			undo := ""
			if a.Undo == nil {
				undo = " (cannot be undone)"
			}
			fmt.Fprintf(w, "  %d. %s%s\n", i+1, printable.Line(a.What, report.NoteMax), undo)
		}
	}
	if len(p.Enable) > 0 {
		fmt.Fprintln(w, "\nUnits enabled next, unless already enabled (undo disables those it enabled):")
		for _, u := range p.Enable {
			fmt.Fprintf(w, "  %s: %s\n", printable.Line(u.String(), report.NoteMax), printable.Line(u.Why, report.NoteMax))
		}
	}
	for _, fc := range p.Files {
		fmt.Fprintf(w, "\n--- %s: %s\n", printable.Line(fc.Path, report.FileMax), printable.Line(fc.Why, report.NoteMax))
		if fc.Mode&0o077 == 0 && fc.Mode != 0 {
			if _, err := os.Stat(fc.Path); err != nil {
				fmt.Fprintf(w, "(new secret file, mode %04o, %d bytes: content not shown)\n", fc.Mode, len(fc.Content))
				continue
			}
		}
		d, err := unifiedDiff(fc.Path, fc.Content)
		if err != nil {
			return err
		}
		fmt.Fprint(w, printableDiff(d))
	}
	return nil
}

// printableDiff escapes each line of a unified diff but the first two,
// the labels unifiedDiff wrote escaped. A line that starts with a
// backslash is diff's own "\ No newline at end of file" (a line of content
// starts with a space, + or -), and keeps its backslash.
func printableDiff(d string) string {
	if d == "" {
		return ""
	}
	lines := strings.Split(strings.TrimSuffix(d, "\n"), "\n")
	for i, l := range lines {
		if i < 2 && (strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "+++ ")) {
			continue
		}
		if rest, ok := strings.CutPrefix(l, `\ `); ok {
			lines[i] = `\ ` + printable.Line(rest, report.DiffLineMax)
		} else {
			lines[i] = printable.Line(l, report.DiffLineMax)
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// unifiedDiff runs diff -u between the file and its new content. The
// labels hold the path escaped: a newline in it would otherwise add a line
// of its choosing to the diff.
func unifiedDiff(path string, content []byte) (string, error) {
	tmp, err := os.CreateTemp("", "vigie-plan-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return "", err
	}
	tmp.Close()
	old := path
	if _, err := os.Stat(path); err != nil {
		old = "/dev/null"
	}
	label := printable.Line(path, report.FileMax)
	out, err := exec.Command("diff", "-u", "--label", label+" (now)", "--label", label+" (after fix)", old, tmp.Name()).Output()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
		err = nil // differences found
	}
	if err != nil {
		return "", fmt.Errorf("diff %s: %w", path, err)
	}
	return string(out), nil
}

// Undo restores a run (the newest applied one when run is "").
func Undo(ctx context.Context, r *Run, out io.Writer, run string) error {
	if err := notOnImage("undo", r.Env); err != nil {
		return err
	}
	e := engine(r.Config)
	lock, err := remediations.TryLock(r.Config.StateDir)
	if err != nil {
		return fmt.Errorf("undo: %w", err)
	}
	defer lock.Unlock()
	// A run a crash left half applied is what an operator reaching for
	// undo wants gone first; it is reverted, and when it is the run asked
	// for, or none was named, that is all.
	done, err := recoverInterrupted(ctx, e, r.Env, activate(r.Remediations, r.Env), out)
	if unitsLive(r.Env) {
		defer sweepBoot(e)
	}
	if err != nil {
		return err
	}
	if len(done) > 0 && (run == "" || slices.Contains(done, run)) {
		return nil
	}
	runs, err := e.Runs()
	if err != nil {
		return err
	}
	// The newest run was put back by its armed revert (interrupted, or
	// not confirmed in time) while nobody watched: the operator who now
	// types `vigie undo` means that run, not the one before it.
	if run == "" && len(runs) > 0 && runs[0].State != remediations.StateApplied && isReverted(e, runs[0].Run) {
		msg := fmt.Sprintf("the newest run, %s (%s), was already put back by its armed revert (%s)", printable.Line(runs[0].Run, report.IDMax),
			printable.Line(runs[0].Area, report.IDMax), printable.Line(runs[0].State, report.IDMax))
		for _, m := range runs {
			if m.State == remediations.StateApplied {
				msg += fmt.Sprintf("; to undo the newest applied run, name it: vigie undo %s (%s)", printable.Line(m.Run, report.IDMax), printable.Line(m.Area, report.IDMax))
				break
			}
		}
		return errors.New(msg)
	}
	for _, m := range runs {
		if m.Run == run || run == "" && m.State == remediations.StateApplied {
			if rem, ok := remediations.Find(r.Remediations, m.Area); ok && m.State == remediations.StateApplied {
				if err := rem.Undoable(filepath.Join(e.Dir, m.Run)); err != nil {
					return fmt.Errorf("run %s: %w", m.Run, err)
				}
			}
			break
		}
	}
	m, err := e.Undo(ctx, run, activate(r.Remediations, r.Env))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Run %s (%s) undone: %d file(s) restored.\n", printable.Line(m.Run, report.IDMax), printable.Line(m.Area, report.IDMax), len(m.Files))
	if len(m.Enabled) > 0 {
		names := make([]string, len(m.Enabled))
		for i, u := range m.Enabled {
			names[i] = u.Name
		}
		fmt.Fprintf(out, "Disabled again, as the run had enabled them: %s.\n", printable.Line(strings.Join(names, ", "), report.LogLineMax))
	}
	if kept := keptActions(m); len(kept) > 0 {
		// Upgrades stay installed.
		fmt.Fprintf(out, "Not reverted by undo, as they cannot be: %s.\n", printable.Line(strings.Join(kept, "; "), report.LogLineMax))
	}
	return nil
}

// keptActions lists the actions of a run that were done and have no
// revert; a journal of an older vigie lists the actions only.
func keptActions(m *remediations.Manifest) []string {
	if len(m.Journal) == 0 {
		return m.Actions
	}
	var out []string
	for _, a := range m.Journal {
		if a.Done && len(a.Revert) == 0 {
			out = append(out, a.What)
		}
	}
	return out
}

// TTYConfirm asks on the terminal.
func TTYConfirm(in io.Reader, out io.Writer) func(string) bool {
	return func(prompt string) bool {
		fmt.Fprint(out, prompt)
		line, _ := bufio.NewReader(in).ReadString('\n')
		return isYes(line)
	}
}

// StdinAnswer reads one line from the terminal for the confirmation.
func StdinAnswer(in io.Reader) func() <-chan bool {
	return func() <-chan bool {
		ch := make(chan bool, 1)
		go func() {
			line, _ := bufio.NewReader(in).ReadString('\n')
			ch <- isYes(line)
		}()
		return ch
	}
}

// showArea prints the area's checks after a change: what the fix left
// (a reboot it did not do, a disk it would not touch).
func showArea(ctx context.Context, r *Run, out io.Writer, area string) {
	sel, err := r.Catalogue.Select([]string{area})
	if err != nil {
		return
	}
	for _, f := range RunChecks(ctx, r.Catalogue, r.Env, checks.Profiles[r.Config.Profile], sel, r.Config.Timeout) {
		fmt.Fprintf(out, "  %-5s %s: %s\n", printable.Line(string(f.Status), 16), printable.Line(f.ID, report.IDMax), printable.Line(f.Reason, report.NoteMax))
	}
}

// isYes reads an operator's answer: y or yes, in any case.
func isYes(line string) bool {
	line = strings.TrimSpace(line)
	return strings.EqualFold(line, "y") || strings.EqualFold(line, "yes")
}
