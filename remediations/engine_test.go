package remediations

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/vigie-agent/vigie/internal/atomicfile"
	"github.com/vigie-agent/vigie/internal/testenv"
	"github.com/vigie-agent/vigie/internal/unitstest"
)

// fixture is a directory with one existing file and the path of one that
// does not exist yet.
type fixture struct {
	dir, existing, created, state string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	f := fixture{dir: dir, existing: filepath.Join(dir, "etc", "app.conf"), created: filepath.Join(dir, "etc", "app.d", "00-vigie.conf"), state: filepath.Join(dir, "state")}
	if err := os.MkdirAll(filepath.Dir(f.existing), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.existing, []byte("Setting old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	// Two units: old.service the operator enabled, new.service not.
	units := filepath.Join(dir, "lib/systemd/system")
	wants := filepath.Join(dir, "etc/systemd/system/multi-user.target.wants")
	for _, d := range []string{units, wants} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"old.service", "new.service"} {
		if err := os.WriteFile(filepath.Join(units, u), []byte("[Service]\nExecStart=/bin/true\n\n[Install]\nWantedBy=multi-user.target\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/lib/systemd/system/old.service", filepath.Join(wants, "old.service")); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f fixture) plan(activations *int, validate, activate, verify error) *Plan {
	return &Plan{
		Area: "test",
		Files: []FileChange{
			{Path: f.existing, Content: []byte("Setting new\n"), Mode: 0o644},
			{Path: f.created, Content: []byte("Setting first\n"), Mode: 0o600},
		},
		Validate: func(context.Context) error { return validate },
		Activate: func(context.Context) error {
			*activations++
			if *activations == 1 {
				return activate
			}
			return nil
		},
		Verify: func(context.Context) error { return verify },
	}
}

// assertUntouched: the existing file byte-identical with its mode, the
// new one absent.
func (f fixture) assertUntouched(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(f.existing)
	if err != nil || string(b) != "Setting old\n" {
		t.Errorf("existing file: %q, %v", b, err)
	}
	if st, err := os.Stat(f.existing); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("existing file mode: %v, %v", st.Mode(), err)
	}
	if _, err := os.Stat(f.created); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("created file still there: %v", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(f.existing), ".*vigie-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestApplyFailuresRollBack(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name                       string
		failAt                     string
		validate, activate, verify error
		wantActivations            int
	}{
		// Stopped before Activate: the running service never saw the new
		// files, and is not reloaded on the restored ones either (a reload
		// can kill an sshd whose configuration changed under it).
		{name: "after backup", failAt: "backup", wantActivations: 0},
		{name: "after the first write", failAt: "write existing", wantActivations: 0},
		{name: "after the last write", failAt: "write created", wantActivations: 0},
		{name: "validation fails", validate: boom, wantActivations: 0},
		{name: "reload fails", activate: boom, wantActivations: 2},
		{name: "verification fails", verify: boom, wantActivations: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			n := 0
			e := &Engine{Dir: f.state, AfterStep: func(step string) error {
				step = strings.Replace(strings.Replace(step, f.existing, "existing", 1), f.created, "created", 1)
				if step == tt.failAt {
					return boom
				}
				return nil
			}}
			run, err := e.Apply(context.Background(), f.plan(&n, tt.validate, tt.activate, tt.verify))
			if err == nil || !strings.Contains(err.Error(), "rolled back") {
				t.Fatalf("err = %v", err)
			}
			if tt.verify != nil && !errors.Is(err, ErrVerify) {
				t.Errorf("verification error not marked: %v", err)
			}
			f.assertUntouched(t)
			if n != tt.wantActivations {
				t.Errorf("%d activations, want %d", n, tt.wantActivations)
			}
			runs, _ := e.Runs()
			if len(runs) != 1 || runs[0].Run != run || runs[0].State != StateRolledBack {
				t.Errorf("journal: %+v", runs)
			}
		})
	}
}

func TestApplyAndUndo(t *testing.T) {
	f := newFixture(t)
	n := 0
	e := &Engine{Dir: f.state}
	run, err := e.Apply(context.Background(), f.plan(&n, nil, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(f.existing); string(b) != "Setting new\n" {
		t.Errorf("not applied: %q", b)
	}
	if st, _ := os.Stat(f.existing); st.Mode().Perm() != 0o640 {
		t.Errorf("rewrite changed the mode to %v", st.Mode())
	}
	if st, _ := os.Stat(f.created); st.Mode().Perm() != 0o600 {
		t.Errorf("new file mode %v", st.Mode())
	}
	var reactivated string
	m, err := e.Undo(context.Background(), "", func(_ context.Context, area string) error { reactivated = area; return nil })
	if err != nil || m.Run != run || m.State != StateUndone || reactivated != "test" {
		t.Fatalf("undo: %+v %v %q", m, err, reactivated)
	}
	f.assertUntouched(t)
	if _, err := e.Undo(context.Background(), run, nil); err == nil {
		t.Error("undoing twice accepted")
	}
}

func TestNoBackupNoChange(t *testing.T) {
	f := newFixture(t)
	// The state directory cannot be created: nothing may change.
	if err := os.WriteFile(f.state, []byte("a file where the directory goes"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := 0
	if _, err := (&Engine{Dir: f.state}).Apply(context.Background(), f.plan(&n, nil, nil, nil)); err == nil {
		t.Fatal("applied without a journal")
	}
	f.assertUntouched(t)
}

const crashEnv = "VIGIE_TEST_CRASH_AT"

// TestCrashHelper is the child process of TestCrashRecovery: it applies a
// plan and dies, as a kill would stop it, at the step named in crashEnv.
func TestCrashHelper(t *testing.T) {
	at := os.Getenv(crashEnv)
	if at == "" {
		t.Skip("child process of TestCrashRecovery")
	}
	f := fixture{dir: os.Getenv("DIR"), existing: os.Getenv("EXISTING"), created: os.Getenv("CREATED"), state: os.Getenv("STATE")}
	n := 0
	e := &Engine{Dir: f.state, Units: &unitstest.Root{Dir: f.dir}, AfterStep: func(step string) error {
		if strings.HasPrefix(step, at) {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
		return nil
	}}
	p := f.plan(&n, nil, nil, nil)
	p.Enable = bothUnits
	_, _ = e.Apply(context.Background(), p)
	t.Fatal("not killed")
}

// TestCrashRecovery kills a real process between steps and checks that the
// next run finds the journal and reverts the half-applied change: the
// files, and the unit enabled and started before the kill, which is
// disabled and stopped again while the one the operator had enabled stays.
func TestCrashRecovery(t *testing.T) {
	for _, at := range []string{"backup", "write ", "validate", "enable new.service", "activate"} {
		t.Run(at, func(t *testing.T) {
			f := newFixture(t)
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
			cmd.Env = append(os.Environ(), crashEnv+"="+at, "DIR="+f.dir, "EXISTING="+f.existing, "CREATED="+f.created, "STATE="+f.state)
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != -1 {
				t.Fatalf("child was not killed: %v", err)
			}
			units := &unitstest.Root{Dir: f.dir}
			e := &Engine{Dir: f.state, Units: units}
			runs, _ := e.Runs()
			if len(runs) != 1 || runs[0].State != StateApplying {
				t.Fatalf("journal after the crash: %+v", runs)
			}
			wantCalls := ""
			if at == "enable new.service" || at == "activate" {
				if !units.Active("new.service") || !slices.Equal(units.Enabled(), []string{"new.service", "old.service"}) {
					t.Fatalf("after the crash: enabled %v, new.service active %v", units.Enabled(), units.Active("new.service"))
				}
				wantCalls = "disable --now new.service"
			}
			var reactivated []string
			done, err := e.Recover(context.Background(), func(_ context.Context, area string) error {
				reactivated = append(reactivated, area)
				return nil
			})
			if err != nil || len(done) != 1 || len(reactivated) != 1 {
				t.Fatalf("recover: %v %v %v", done, err, reactivated)
			}
			f.assertUntouched(t)
			assertOnlyOld(t, units, wantCalls)
			runs, _ = e.Runs()
			if runs[0].State != StateRolledBack {
				t.Errorf("state after recovery: %s", runs[0].State)
			}
		})
	}
}

func TestWriteAtomicKeepsOwnerAndMode(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "needs root to chown")
	}
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("a"), 0o604); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 1234, 5678); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.Write(p, []byte("b"), 0o777); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	sys := st.Sys().(*syscall.Stat_t)
	if st.Mode().Perm() != 0o604 || sys.Uid != 1234 || sys.Gid != 5678 {
		t.Errorf("mode %v owner %d:%d", st.Mode(), sys.Uid, sys.Gid)
	}
}

// TestActions: actions run after the files are written, in order; on a
// failure the completed ones are undone newest first before the files come
// back, and those that cannot be undone are named.
func TestActions(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		failDo    int // 1-based action whose Do fails, 0 none
		verify    error
		wantLog   string
		wantErr   string
		wantState string
	}{
		{name: "all succeed", wantLog: "do a (new), do b, do c", wantState: StateApplied},
		{name: "second fails", failDo: 2, wantLog: "do a (new), do b, undo a", wantErr: "b: boom (every change of this run rolled back)", wantState: StateRolledBack},
		{name: "verification fails", verify: boom, wantLog: "do a (new), do b, do c, undo c, undo a",
			wantErr: "kept, as it cannot be undone: b", wantState: StateRolledBack},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var log []string
			act := func(i int, name string, undo bool) Action {
				a := Action{What: name, Do: func(context.Context) error {
					entry := "do " + name
					if i == 1 {
						// The files are already in place when actions run.
						if b, _ := os.ReadFile(f.existing); string(b) == "Setting new\n" {
							entry += " (new)"
						}
					}
					log = append(log, entry)
					if i == tt.failDo {
						return boom
					}
					return nil
				}}
				if undo {
					a.Undo = func(context.Context) error { log = append(log, "undo "+name); return nil }
				}
				return a
			}
			n := 0
			p := f.plan(&n, nil, nil, tt.verify)
			p.Actions = []Action{act(1, "a", true), act(2, "b", false), act(3, "c", true)}
			e := &Engine{Dir: f.state}
			_, err := e.Apply(context.Background(), p)
			if got := strings.Join(log, ", "); got != tt.wantLog {
				t.Errorf("log %q, want %q", got, tt.wantLog)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
			runs, _ := e.Runs()
			if len(runs) != 1 || runs[0].State != tt.wantState {
				t.Fatalf("journal: %+v", runs)
			}
			if tt.wantState == StateRolledBack {
				f.assertUntouched(t)
			} else if strings.Join(runs[0].Actions, ",") != "a,b,c" {
				t.Errorf("journal actions %v", runs[0].Actions)
			}
		})
	}
}

// TestRevertOutlivesCancel: Ctrl-C (a cancelled context) during a run or
// during the confirm window must not break the way back: the rollback and
// the undo reactivate the old configuration with a live context.
func TestRevertOutlivesCancel(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(target, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &Engine{Dir: filepath.Join(dir, "state")}

	// Cancelled between activate and verify: rolled back, reactivated.
	ctx, cancel := context.WithCancel(context.Background())
	var activations []error
	p := &Plan{Area: "ssh", Files: []FileChange{{Path: target, Content: []byte("new\n")}},
		Activate: func(ctx context.Context) error { activations = append(activations, ctx.Err()); return nil },
		Verify:   func(ctx context.Context) error { cancel(); return ctx.Err() }}
	if _, err := e.Apply(ctx, p); err == nil {
		t.Fatal("a cancelled run was kept")
	}
	if b, _ := os.ReadFile(target); string(b) != "old\n" {
		t.Errorf("after the rollback: %q", b)
	}
	if len(activations) != 2 || activations[1] != nil {
		t.Errorf("reactivation after the rollback saw context errors %v, want a live context", activations)
	}

	// Applied, then the operator's Ctrl-C during the window asks for the
	// undo with the cancelled context.
	ctx, cancel = context.WithCancel(context.Background())
	p.Verify = nil
	run, err := e.Apply(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	var undoCtxErr error = errors.New("not called")
	if _, err := e.Undo(ctx, run, func(ctx context.Context, _ string) error { undoCtxErr = ctx.Err(); return ctx.Err() }); err != nil {
		t.Fatalf("undo with a cancelled context: %v", err)
	}
	if undoCtxErr != nil {
		t.Errorf("undo reactivated with a dead context: %v", undoCtxErr)
	}
	if b, _ := os.ReadFile(target); string(b) != "old\n" {
		t.Errorf("after the undo: %q", b)
	}
}

// TestRefusesSymlink: a configuration file that is a link is neither
// replaced by a file nor written through: the run is refused before any
// change, and the link and its target are as they were.
func TestRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.conf")
	link := filepath.Join(dir, "sshd_config")
	other := filepath.Join(dir, "other.conf")
	for p, c := range map[string]string{real: "real\n", other: "other\n"} {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	e := &Engine{Dir: filepath.Join(dir, "state")}
	_, err := e.Apply(context.Background(), &Plan{Area: "ssh", Files: []FileChange{
		{Path: other, Content: []byte("new\n")}, {Path: link, Content: []byte("new\n")}}})
	if err == nil || !strings.Contains(err.Error(), "is a symbolic link to "+real) {
		t.Fatalf("err = %v", err)
	}
	if got, err := os.Readlink(link); err != nil || got != real {
		t.Errorf("the link is now %q, %v", got, err)
	}
	for p, want := range map[string]string{real: "real\n", other: "other\n"} {
		if b, _ := os.ReadFile(p); string(b) != want {
			t.Errorf("%s: %q", p, b)
		}
	}
	if runs, _ := e.Runs(); len(runs) != 0 {
		t.Errorf("a refused run left a journal: %+v", runs)
	}
}

// journalEnv names the step TestJournalCrashHelper kills itself at.
const journalEnv = "VIGIE_JOURNAL_CRASH_AT"

// TestJournalCrashHelper is the child of TestRecoverRunsJournaledReverts: it
// applies a plan of three actions and kills itself with SIGKILL at a step,
// as a crash would, leaving what a crash leaves.
func TestJournalCrashHelper(t *testing.T) {
	at := os.Getenv(journalEnv)
	if at == "" {
		return
	}
	dir := os.Getenv("DIR")
	mark := func(name string) func(context.Context) error {
		return func(context.Context) error {
			if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
				return err
			}
			if at == "inside "+name {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
			return nil
		}
	}
	rm := func(name string) [][]string { return [][]string{{"rm", filepath.Join(dir, name)}} }
	e := &Engine{Dir: filepath.Join(dir, "state"), AfterStep: func(step string) error {
		if step == at {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
		return nil
	}}
	_, _ = e.Apply(context.Background(), &Plan{Area: "disks",
		Files: []FileChange{{Path: filepath.Join(dir, "fstab"), Content: []byte("new\n")}},
		Actions: []Action{
			{What: "make a", Do: mark("a"), Revert: rm("a")},
			{What: "upgrade", Do: func(context.Context) error { return nil }},
			{What: "make b", Do: mark("b"), Revert: rm("b")},
		}})
	t.Fatal("not killed")
}

// TestRecoverRunsJournaledReverts: a run killed after its actions, or in
// the middle of one, is reverted by the next process from the journal
// alone: the reverts of the actions it started run newest first (a revert
// of an action that may not have happened is allowed to fail), the files
// come back, and an action without a revert is named as kept.
func TestRecoverRunsJournaledReverts(t *testing.T) {
	for _, tt := range []struct {
		at      string
		present []string // files the crash leaves
	}{
		{"action make b", []string{"a", "b"}},
		{"inside b", []string{"a", "b"}},
		{"action make a", []string{"a"}},
	} {
		t.Run(tt.at, func(t *testing.T) {
			dir := t.TempDir()
			fstab := filepath.Join(dir, "fstab")
			if err := os.WriteFile(fstab, []byte("old\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestJournalCrashHelper$")
			cmd.Env = append(os.Environ(), journalEnv+"="+tt.at, "DIR="+dir)
			var ee *exec.ExitError
			if err := cmd.Run(); !errors.As(err, &ee) || ee.ExitCode() != -1 {
				t.Fatalf("child was not killed: %v", err)
			}
			for _, n := range tt.present {
				if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
					t.Fatalf("the crash did not leave %s: %v", n, err)
				}
			}
			var ran []string
			e := &Engine{Dir: filepath.Join(dir, "state")}
			e.Run = func(ctx context.Context, argv []string) error {
				ran = append(ran, filepath.Base(argv[len(argv)-1]))
				_, err := Run(ctx, nil, argv[0], argv[1:]...)
				return err
			}
			done, err := e.Recover(context.Background(), nil)
			if err != nil || len(done) != 1 {
				t.Fatalf("recover: %v %v", done, err)
			}
			for _, n := range []string{"a", "b"} {
				if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
					t.Errorf("%s is still there after the recovery (reverts run: %v)", n, ran)
				}
			}
			if b, _ := os.ReadFile(fstab); string(b) != "old\n" {
				t.Errorf("fstab after the recovery: %q", b)
			}
			want := []string{"a"}
			if len(tt.present) == 2 {
				want = []string{"b", "a"}
			}
			if !slices.Equal(ran, want) {
				t.Errorf("reverts run %v, want %v (newest first)", ran, want)
			}
			runs, _ := e.Runs()
			if runs[0].State != StateRolledBack || (len(tt.present) == 2) != strings.Contains(runs[0].Error, "kept, as it cannot be undone: upgrade") {
				t.Errorf("journal after the recovery: %s %q", runs[0].State, runs[0].Error)
			}
		})
	}
}

// TestSettle: the revert of an interrupted run and undo run the plan's
// Settle lines, recorded with the backups, in order and before the
// reverts of the journaled actions (newest first); a line marked "-" may
// fail, any other failure stops the revert before the files, and the run
// stays as it was, to be reverted by the next attempt. A journal of an
// older version has no Settle lines and reverts as before.
func TestSettle(t *testing.T) {
	tests := []struct {
		name    string
		settle  [][]string
		wantRan string
		wantErr string
	}{
		{name: "in order, before the reverts", settle: [][]string{{"stop", "a"}, {"remake", "b"}},
			wantRan: "stop a, remake b, revert y, revert x"},
		{name: "a failure of a - line is ignored", settle: [][]string{{"-fail", "a"}, {"remake", "b"}},
			wantRan: "fail a, remake b, revert y, revert x"},
		{name: "another failure stops the revert", settle: [][]string{{"-stop", "a"}, {"fail", "b"}, {"remake", "c"}},
			wantRan: "stop a, fail b", wantErr: "settle: fail b: boom"},
		{name: "an older journal without settle lines", wantRan: "revert y, revert x"},
	}
	for _, how := range []string{"recover", "undo"} {
		for _, tt := range tests {
			t.Run(how+", "+tt.name, func(t *testing.T) {
				f := newFixture(t)
				n := 0
				p := f.plan(&n, nil, nil, nil)
				p.Settle = tt.settle
				nop := func(context.Context) error { return nil }
				p.Actions = []Action{
					{What: "x", Do: nop, Revert: [][]string{{"revert", "x"}}},
					{What: "y", Do: nop, Revert: [][]string{{"revert", "y"}}},
				}
				e := &Engine{Dir: f.state}
				run, err := e.Apply(context.Background(), p)
				if err != nil {
					t.Fatal(err)
				}
				runs, _ := e.Runs()
				if !slices.EqualFunc(runs[0].Settle, tt.settle, slices.Equal) {
					t.Fatalf("journaled settle lines %q, want %q", runs[0].Settle, tt.settle)
				}
				want := StateApplied
				if how == "recover" {
					// As a crash leaves it.
					want = StateApplying
					runs[0].State = StateApplying
					if err := e.save(runs[0]); err != nil {
						t.Fatal(err)
					}
				}
				var ran []string
				e.Run = func(_ context.Context, argv []string) error {
					ran = append(ran, strings.Join(argv, " "))
					if argv[0] == "fail" {
						return errors.New(strings.Join(argv, " ") + ": boom")
					}
					return nil
				}
				if how == "recover" {
					_, err = e.Recover(context.Background(), nil)
				} else {
					_, err = e.Undo(context.Background(), run, nil)
				}
				if got := strings.Join(ran, ", "); got != tt.wantRan {
					t.Errorf("ran %q, want %q", got, tt.wantRan)
				}
				runs, _ = e.Runs()
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Errorf("err = %v, want %q", err, tt.wantErr)
					}
					if runs[0].State != want {
						t.Errorf("state after the failed revert: %s, want %s", runs[0].State, want)
					}
					if b, _ := os.ReadFile(f.existing); string(b) != "Setting new\n" {
						t.Errorf("files restored by a failed revert: %q", b)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if runs[0].State == want {
					t.Errorf("state after the revert still %s", want)
				}
				f.assertUntouched(t)
			})
		}
	}
}
