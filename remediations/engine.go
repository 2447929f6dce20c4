// Package remediations applies fixes transactionally: it plans changes from
// an area's facts, shows them as a diff, backs up every file it will touch
// before touching any, writes atomically, activates (reload), verifies with
// the same checks that found the problem, and puts everything back when any
// step fails. A journal on disk lets the next run revert a run that was
// interrupted.
package remediations

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vigie-agent/vigie/internal/atomicfile"
)

// FileChange is one file a plan wants to hold new content.
type FileChange struct {
	Path    string      // absolute path
	Content []byte      // the new content
	Mode    fs.FileMode // for a file that does not exist yet
	Why     string
}

// Action is a step that is not a file write: a package upgrade, a
// filesystem made, a mount. Actions run in order after the files are
// written and validated. Enabling a unit is not an action but a
// Plan.Enable entry, which the engine journals and reverses itself.
type Action struct {
	What string // the command or change, as shown in the plan
	Do   func(ctx context.Context) error
	// Undo reverts a completed Do on rollback. Nil means the step cannot
	// be reverted (an installed package upgrade); the plan says so.
	Undo func(ctx context.Context) error
	// Revert is the same undo as command lines, run in order. It is
	// journaled before Do runs, because Undo dies with the process that
	// made it: the revert of an interrupted run and `vigie undo` run
	// these instead (a filesystem erased by a run killed half way is made
	// again with its UUID, so the restored fstab finds it). Where Undo is
	// nil, a rollback runs them too. A leading "-" on argv[0] means a
	// failure of that line is ignored, as in Plan.Settle.
	Revert [][]string
}

// JournalAction is an action as the journal keeps it: written before the
// action runs, marked done once it has.
type JournalAction struct {
	What   string     `json:"what"`
	Revert [][]string `json:"revert,omitempty"`
	Done   bool       `json:"done"`
}

// Plan is what a remediation will do, built from the area's facts before
// anything changes.
type Plan struct {
	Area string
	// Run is the run's id when the caller chose it first (NewRunID), to
	// arm what reverts it before it starts; "" lets Apply choose.
	Run     string
	Files   []FileChange
	Actions []Action
	// Enable lists the units to enable once the actions have run, before
	// Activate. Those already enabled are left alone; the others are
	// recorded in the journal and disabled again by a rollback, the
	// recovery of an interrupted run, and undo.
	Enable []EnableUnit
	// Notes tell the reviewer what the plan implies beyond its changes
	// (a reboot it will not do, a step that cannot be undone).
	Notes []string
	// Refusals say what the plan will not change and why (anti-lockout,
	// destructive steps not allowed). A plan with refusals and no files
	// changes nothing.
	Refusals []string
	// Validate runs after the files are written, before they take effect
	// (sshd -t): a failure reverts the files.
	Validate func(ctx context.Context) error
	// Activate makes the files take effect (reload a service). It runs
	// again after a revert, to put the old files back in force.
	Activate func(ctx context.Context) error
	// Verify runs the area's checks again on the changed system.
	Verify func(ctx context.Context) error
	// Commit makes a verified change durable beyond files (schedule a
	// reboot). A failure still reverts the files.
	Commit func(ctx context.Context) error
	// Settle is command lines that bring the host back in line with the
	// files a revert restores, whatever step the run had reached, a
	// reboot included: a reboot between the file writes and the run's
	// end lets the system act on the new files (systemd opens crypttab's
	// devices and makes filesystems on them), which no journaled action
	// records. They are written in the journal with the backups, before
	// any file changes, and the revert of an interrupted run and undo run
	// them in order, after disabling the run's units and before the
	// actions' reverts; so each must be idempotent, and right on a host
	// the run left untouched. A leading "-" on argv[0] means a failure of
	// that line is ignored (like systemd's ExecStart=-: stopping a unit
	// that may not exist); any other failure stops the revert, and the run
	// stays as it is, to be reverted by the next attempt. A rollback in
	// the process that made the run does not run them: it knows which
	// steps happened, and no reboot came between.
	Settle [][]string
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Files) == 0 && len(p.Actions) == 0 && len(p.Enable) == 0 }

// Changes counts what the plan changes: files, actions and units.
func (p *Plan) Changes() int { return len(p.Files) + len(p.Actions) + len(p.Enable) }

// Run states recorded in the journal.
const (
	StateApplying   = "applying"    // files may be half changed: revert on sight
	StateApplied    = "applied"     // changes in force and verified
	StateRolledBack = "rolled-back" // a step failed, everything was put back
	StateUndone     = "undone"      // an operator asked for the old state back
)

// Manifest is the journal of one run, written before the first change.
type Manifest struct {
	Run     string        `json:"run"`
	Area    string        `json:"area"`
	State   string        `json:"state"`
	Started time.Time     `json:"started"`
	Files   []BackupEntry `json:"files"`
	// Actions lists the actions that completed, in order, so an operator
	// reading an interrupted run knows what happened besides the files.
	Actions []string `json:"actions,omitempty"`
	// Enabled lists the units the run enabled that were not enabled
	// before, each written here before systemd was asked. Journals of
	// older versions have none.
	Enabled []EnabledUnit `json:"enabled,omitempty"`
	// Journal lists every action started, with how to revert it.
	Journal []JournalAction `json:"journal,omitempty"`
	// Settle is the plan's Settle, run by the revert of an interrupted
	// run and by undo before the journal's reverts. Journals of older
	// versions have none.
	Settle [][]string `json:"settle,omitempty"`
	Error  string     `json:"error,omitempty"`

	done int // actions completed in this process, for rollback
	// activated says the plan's Activate ran (or began) in this process:
	// only then does a rollback need to reactivate. A run stopped before
	// (sshd -t refused it) leaves the running service as it was, which a
	// reload on the restored files could only risk.
	activated bool
}

// BackupEntry records how to put one file back.
type BackupEntry struct {
	Path    string      `json:"path"`
	Existed bool        `json:"existed"`
	Backup  string      `json:"backup,omitempty"` // copy of the old content, under the run directory
	Mode    fs.FileMode `json:"mode"`
	UID     int         `json:"uid"`
	GID     int         `json:"gid"`
}

// Engine applies plans. Dir holds one directory per run (backups and
// manifest): /var/lib/vigie/backups.
type Engine struct {
	Dir string
	// Units enables and disables the units plans ask for; a plan with
	// units to enable is refused without it.
	Units Units
	// AfterStep, when set, is called after each step with its name; tests
	// use it to inject failures and to stop a run half way, as a crash
	// would.
	AfterStep func(step string) error
	// Run runs one command line of a journaled revert; nil runs it with
	// Run (this package's).
	Run func(ctx context.Context, argv []string) error
}

// ErrVerify wraps a verification failure.
var ErrVerify = errors.New("verification failed")

// Apply runs a plan as one transaction and returns its run id. On any
// failure the files are restored, Activate runs again, and the error says
// which step failed.
func (e *Engine) Apply(ctx context.Context, p *Plan) (string, error) {
	if p.Empty() {
		return "", nil
	}
	if len(p.Enable) > 0 && e.Units == nil {
		return "", fmt.Errorf("the plan enables %s, but no service manager is there to ask", p.Enable[0].Name)
	}
	// A link is refused, not replaced: the atomic write would put a plain
	// file where the link was and cut it from the file it points to.
	for _, fc := range p.Files {
		if target, err := os.Readlink(fc.Path); err == nil {
			return "", fmt.Errorf("%s is a symbolic link to %s: vigie does not replace a link with a file; change the file it points to, or replace the link with that file, and run the fix again", fc.Path, target)
		}
	}
	run := p.Run
	if run == "" {
		run = NewRunID()
	}
	m := &Manifest{Run: run, Area: p.Area, State: StateApplying, Started: time.Now().UTC(), Settle: p.Settle}
	dir := filepath.Join(e.Dir, run)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return run, fmt.Errorf("create %s: %w", dir, err)
	}
	for i, fc := range p.Files {
		b, err := backup(dir, i, fc.Path)
		if err != nil {
			return run, fmt.Errorf("back up %s: %w", fc.Path, err)
		}
		m.Files = append(m.Files, b)
	}
	if err := e.save(m); err != nil {
		return run, err
	}
	if err := e.step("backup"); err != nil {
		return run, e.rollback(ctx, p, m, err)
	}
	for _, fc := range p.Files {
		if err := os.MkdirAll(filepath.Dir(fc.Path), 0o755); err != nil {
			return run, e.rollback(ctx, p, m, fmt.Errorf("create %s: %w", filepath.Dir(fc.Path), err))
		}
		if err := atomicfile.Write(fc.Path, fc.Content, fc.Mode); err != nil {
			return run, e.rollback(ctx, p, m, err)
		}
		if err := e.step("write " + fc.Path); err != nil {
			return run, e.rollback(ctx, p, m, err)
		}
	}
	if p.Validate != nil {
		if err := p.Validate(ctx); err != nil {
			return run, e.rollback(ctx, p, m, fmt.Errorf("validate: %w", err))
		}
		if err := e.step("validate"); err != nil {
			return run, e.rollback(ctx, p, m, err)
		}
	}
	for i, a := range p.Actions {
		m.Journal = append(m.Journal, JournalAction{What: a.What, Revert: a.Revert})
		if err := e.save(m); err != nil {
			return run, e.rollback(ctx, p, m, err)
		}
		if err := a.Do(ctx); err != nil {
			return run, e.rollback(ctx, p, m, fmt.Errorf("%s: %w", a.What, err))
		}
		m.done = i + 1
		m.Journal[i].Done = true
		m.Actions = append(m.Actions, a.What)
		if err := e.save(m); err != nil {
			return run, e.rollback(ctx, p, m, err)
		}
		if err := e.step("action " + a.What); err != nil {
			return run, e.rollback(ctx, p, m, err)
		}
	}
	if err := e.enableUnits(ctx, p, m); err != nil {
		return run, e.rollback(ctx, p, m, err)
	}
	for _, s := range []struct {
		name string
		fn   func(context.Context) error
	}{{"activate", p.Activate}, {"verify", p.Verify}, {"commit", p.Commit}} {
		if s.fn == nil {
			continue
		}
		if s.name == "activate" {
			m.activated = true
		}
		if err := s.fn(ctx); err != nil {
			if s.name == "verify" {
				err = fmt.Errorf("%w: %v", ErrVerify, err)
			}
			return run, e.rollback(ctx, p, m, fmt.Errorf("%s: %w", s.name, err))
		}
		if err := e.step(s.name); err != nil {
			return run, e.rollback(ctx, p, m, err)
		}
	}
	m.State = StateApplied
	return run, e.save(m)
}

func (e *Engine) step(name string) error {
	if e.AfterStep == nil {
		return nil
	}
	return e.AfterStep(name)
}

// rollback restores every file of the run and reactivates the old
// configuration. It returns the original error, with any failure to
// restore added: a restore failure is what an operator must hear about.
//
// The units the run enabled are disabled first, then completed actions are
// undone, newest first, while the files they rely on are still in place;
// actions that cannot be undone are named in the error so nobody believes
// them reverted.
func (e *Engine) rollback(ctx context.Context, p *Plan, m *Manifest, cause error) error {
	// The run may be failing because its context ended (Ctrl-C, SIGTERM,
	// a deadline): the way back must not end with it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RevertTimeout)
	defer cancel()
	var errs []error
	var kept []string
	if err := e.disableUnits(ctx, m); err != nil {
		errs = append(errs, err)
	}
	if p != nil {
		for i := m.done - 1; i >= 0; i-- {
			a := p.Actions[i]
			switch {
			case a.Undo != nil:
				if err := a.Undo(ctx); err != nil {
					errs = append(errs, fmt.Errorf("undo %s: %w", a.What, err))
				}
			case len(a.Revert) > 0:
				if err := e.runRevert(ctx, a.Revert); err != nil {
					errs = append(errs, fmt.Errorf("undo %s: %w", a.What, err))
				}
			default:
				kept = append(kept, a.What)
			}
		}
	}
	if err := e.restore(m); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 && p != nil && p.Activate != nil && (m.activated || m.done > 0 || len(m.Enabled) > 0) {
		errs = append(errs, p.Activate(ctx))
	}
	rerr := errors.Join(errs...)
	m.State, m.Error = StateRolledBack, cause.Error()
	if rerr != nil {
		m.Error += "; ROLLBACK INCOMPLETE: " + rerr.Error()
		_ = e.save(m)
		return fmt.Errorf("%w; rollback failed: %v (backups in %s)", cause, rerr, filepath.Join(e.Dir, m.Run))
	}
	_ = e.save(m)
	if len(kept) > 0 {
		return fmt.Errorf("%w (everything else rolled back; kept, as it cannot be undone: %s)", cause, strings.Join(kept, "; "))
	}
	return fmt.Errorf("%w (every change of this run rolled back)", cause)
}

// restore puts every file of a manifest back: old content, mode and owner,
// or no file where there was none.
func (e *Engine) restore(m *Manifest) error {
	var errs []error
	for i := len(m.Files) - 1; i >= 0; i-- {
		b := m.Files[i]
		if !b.Existed {
			if err := os.Remove(b.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove %s: %w", b.Path, err))
			}
			continue
		}
		data, err := os.ReadFile(filepath.Join(e.Dir, m.Run, b.Backup))
		if err != nil {
			errs = append(errs, fmt.Errorf("read backup of %s: %w", b.Path, err))
			continue
		}
		if err := atomicfile.Write(b.Path, data, b.Mode); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.Chmod(b.Path, b.Mode); err != nil {
			errs = append(errs, err)
		}
		if err := os.Chown(b.Path, b.UID, b.GID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// backup copies the current content of path into the run directory.
func backup(dir string, i int, path string) (BackupEntry, error) {
	b := BackupEntry{Path: path, UID: -1, GID: -1}
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		return b, err
	}
	if !st.Mode().IsRegular() {
		return b, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return b, err
	}
	b.Existed, b.Mode = true, st.Mode().Perm()
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		b.UID, b.GID = int(sys.Uid), int(sys.Gid)
	}
	b.Backup = "files/" + strconv.Itoa(i) + "-" + filepath.Base(path)
	if err := os.MkdirAll(filepath.Join(dir, "files"), 0o700); err != nil {
		return b, err
	}
	return b, atomicfile.Write(filepath.Join(dir, b.Backup), data, 0o600)
}

func (e *Engine) save(m *Manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(e.Dir, m.Run, "manifest.json"), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	return nil
}

// Runs lists the journal, newest first.
func (e *Engine) Runs() ([]*Manifest, error) {
	ents, err := os.ReadDir(e.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", e.Dir, err)
	}
	var out []*Manifest
	for _, ent := range ents {
		data, err := os.ReadFile(filepath.Join(e.Dir, ent.Name(), "manifest.json"))
		if err != nil {
			continue
		}
		var m Manifest
		if err := json.Unmarshal(data, &m); err != nil {
			continue
		}
		out = append(out, &m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Run > out[j].Run })
	return out, nil
}

// runRevert runs the command lines of one action's revert, or a run's
// Settle, in order. A line whose argv[0] begins with "-" may fail: its
// failure is ignored and the next line runs.
func (e *Engine) runRevert(ctx context.Context, cmds [][]string) error {
	run := e.Run
	if run == nil {
		run = func(ctx context.Context, argv []string) error {
			_, err := Run(ctx, nil, argv[0], argv[1:]...)
			return err
		}
	}
	for _, argv := range cmds {
		if len(argv) == 0 {
			continue
		}
		name, mayFail := strings.CutPrefix(argv[0], "-")
		if name == "" {
			continue
		}
		if err := run(ctx, append([]string{name}, argv[1:]...)); err != nil && !mayFail {
			return err
		}
	}
	return nil
}

// settle runs a run's Settle lines, before its journaled actions are
// reverted.
func (e *Engine) settle(ctx context.Context, m *Manifest) error {
	if err := e.runRevert(ctx, m.Settle); err != nil {
		return fmt.Errorf("settle: %w", err)
	}
	return nil
}

// revertJournal reverts the journaled actions of a run another process
// left, newest first. An action the journal marks started but not done
// may or may not have happened, so a failure of its revert is not an
// error; an action done that has no revert is kept, and the run's error
// says so.
func (e *Engine) revertJournal(ctx context.Context, m *Manifest) error {
	var errs []error
	var kept []string
	for i := len(m.Journal) - 1; i >= 0; i-- {
		a := m.Journal[i]
		if len(a.Revert) == 0 {
			if a.Done {
				kept = append(kept, a.What)
			}
			continue
		}
		if err := e.runRevert(ctx, a.Revert); err != nil && a.Done {
			errs = append(errs, fmt.Errorf("undo %s: %w", a.What, err))
		}
	}
	if len(kept) > 0 {
		m.Error = "kept, as it cannot be undone: " + strings.Join(kept, "; ")
	}
	return errors.Join(errs...)
}

// RevertTimeout bounds a rollback or an undo, which run to their end even
// when the context of the run they revert was cancelled.
const RevertTimeout = 5 * time.Minute

// Recover reverts every run left in the applying state by a crash, and
// reactivates through activate (by area). It returns what it reverted.
// The units such a run enabled are disabled before its files come back
// (a unit file among them must still be there to be disabled), then its
// Settle lines run, then the reverts of its journaled actions; when one
// of those fails the run stays as it is, to be reverted by the next
// attempt.
func (e *Engine) Recover(ctx context.Context, activate func(ctx context.Context, area string) error) ([]string, error) {
	runs, err := e.Runs()
	if err != nil {
		return nil, err
	}
	var done []string
	var errs []error
	for _, m := range runs {
		if m.State != StateApplying {
			continue
		}
		err := e.disableUnits(ctx, m)
		if err == nil {
			err = e.settle(ctx, m)
		}
		if err == nil {
			err = e.revertJournal(ctx, m)
		}
		if err == nil {
			err = e.restore(m)
		}
		if err == nil && activate != nil {
			err = activate(ctx, m.Area)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("revert interrupted run %s: %w", m.Run, err))
			continue
		}
		m.State, m.Error = StateRolledBack, strings.TrimSuffix("interrupted; reverted by a later run; "+m.Error, "; ")
		if err := e.save(m); err != nil {
			errs = append(errs, err)
		}
		done = append(done, m.Run)
	}
	return done, errors.Join(errs...)
}

// Undo reverts an applied run (the newest when run is ""): it disables
// the units the run enabled, runs its Settle lines and its actions'
// reverts, then restores its files. A failure before the files leaves
// the run applied, files untouched, so undo can be asked again.
//
// It runs to its end even when ctx is cancelled (an operator's Ctrl-C
// during the confirm window is what asks for it), within RevertTimeout.
func (e *Engine) Undo(ctx context.Context, run string, activate func(ctx context.Context, area string) error) (*Manifest, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RevertTimeout)
	defer cancel()
	runs, err := e.Runs()
	if err != nil {
		return nil, err
	}
	var m *Manifest
	for _, r := range runs {
		if (run == "" && r.State == StateApplied) || r.Run == run {
			m = r
			break
		}
	}
	if m == nil {
		if run == "" {
			return nil, errors.New("no applied run to undo")
		}
		return nil, fmt.Errorf("no run %s in %s", run, e.Dir)
	}
	if m.State != StateApplied {
		return m, fmt.Errorf("run %s is %s, not applied: nothing to undo", m.Run, m.State)
	}
	if err := e.disableUnits(ctx, m); err != nil {
		return m, err
	}
	if err := e.settle(ctx, m); err != nil {
		return m, err
	}
	if err := e.revertJournal(ctx, m); err != nil {
		_ = e.save(m)
		return m, err
	}
	if err := e.restore(m); err != nil {
		return m, err
	}
	if activate != nil {
		if err := activate(ctx, m.Area); err != nil {
			return m, fmt.Errorf("files restored, but reactivating %s failed: %w", m.Area, err)
		}
	}
	m.State = StateUndone
	return m, e.save(m)
}

// Changed reports whether a file change would alter the file.
func Changed(fc FileChange) bool {
	old, err := os.ReadFile(fc.Path)
	return err != nil || !bytes.Equal(old, fc.Content)
}

// NewRunID sorts by time and is unique: 20061102T150405Z-4 random bytes.
func NewRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405.000000Z") + "-" + hex.EncodeToString(b[:])
}
