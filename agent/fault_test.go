package agent

import (
	"bytes"
	"context"
	"errors"
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

// fileRemediation writes one file; it counts its plans.
type fileRemediation struct {
	path  string
	plans int
}

func (r *fileRemediation) Name() string { return "demo" }
func (r *fileRemediation) Plan(context.Context, *host.Env, remediations.Request) (*remediations.Plan, error) {
	r.plans++
	return &remediations.Plan{Area: "demo", Files: []remediations.FileChange{{Path: r.path, Content: []byte("new\n"), Mode: 0o644, Why: "demo"}}}, nil
}
func (r *fileRemediation) Activate(context.Context, *host.Env) error { return nil }
func (r *fileRemediation) CanCutOff() bool                           { return false }
func (r *fileRemediation) NeedsNewConnection() bool                  { return false }
func (r *fileRemediation) RestoresInterrupted() bool                 { return true }
func (r *fileRemediation) Destructive() bool                         { return false }
func (r *fileRemediation) Undoable(string) error                     { return nil }
func (r *fileRemediation) Applied(run, _ string) string              { return run }
func (r *fileRemediation) KeepOpen(context.Context, *host.Env) []int { return nil }

// TestOneLock: while another process holds the state directory's lock (an
// operator's fix waiting for its confirmation), a fix and an undo refuse
// with the holder named and change nothing, and the service's cycle skips
// its remediation but still checks; once it is released, the fix applies.
func TestOneLock(t *testing.T) {
	cfg := config.Defaults()
	cfg.StateDir = t.TempDir()
	target := filepath.Join(t.TempDir(), "demo.conf")
	if err := os.WriteFile(target, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rem := &fileRemediation{path: target}
	cat, err := checks.NewCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	r := &Run{Config: cfg, Env: host.DefaultEnv(), Catalogue: cat, Remediations: []remediations.Remediation{rem}}

	held, err := remediations.TryLock(cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code, err := Fix(context.Background(), r, &out, FixOptions{Yes: true}); code != 2 || !errors.Is(err, remediations.ErrBusy) {
		t.Fatalf("fix under the lock: exit %d, %v", code, err)
	}
	if err := Undo(context.Background(), r, &out, ""); !errors.Is(err, remediations.ErrBusy) {
		t.Fatalf("undo under the lock: %v", err)
	}
	if rem.plans != 0 {
		t.Errorf("planned %d time(s) under another holder's lock", rem.plans)
	}
	if b, _ := os.ReadFile(target); string(b) != "old\n" {
		t.Errorf("file changed under another holder's lock: %q", b)
	}
	r.Config.Run.Remediate = []string{"demo"}
	var log bytes.Buffer
	if err := Cycle(context.Background(), r, &log, false); err != nil || !strings.Contains(log.String(), "remediation skipped this cycle: fix: "+remediations.ErrBusy.Error()) {
		t.Fatalf("service cycle under the lock: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "report ") {
		t.Errorf("the cycle did not check and report:\n%s", log.String())
	}
	// A dry run reads only and needs no lock.
	if code, err := Fix(context.Background(), r, &out, FixOptions{DryRun: true}); code != 0 || err != nil {
		t.Fatalf("dry run under the lock: exit %d, %v", code, err)
	}
	held.Unlock()
	out.Reset()
	if code, err := Fix(context.Background(), r, &out, FixOptions{Yes: true}); code != 0 || err != nil {
		t.Fatalf("fix once released: exit %d, %v\n%s", code, err, out.String())
	}
	if b, _ := os.ReadFile(target); string(b) != "new\n" {
		t.Errorf("after the fix: %q", b)
	}
	if !strings.Contains(out.String(), "demo: applied and verified") || !strings.Contains(out.String(), "Summary: changed, verified and kept: demo.") {
		t.Errorf("output:\n%s", out.String())
	}
}

// cutOffRemediation is fileRemediation for a change that can cut the
// operator off, as sshd's and the firewall's can.
type cutOffRemediation struct{ fileRemediation }

func (r *cutOffRemediation) CanCutOff() bool { return true }

// TestHangupDuringWindowUndoes: the session drops (SIGHUP, which cancels
// the fix's context) while the change waits for its confirmation: the
// change is undone with a context of its own, and the file is back.
func TestHangupDuringWindowUndoes(t *testing.T) {
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
	rem := &cutOffRemediation{fileRemediation{path: target}}
	r := &Run{Config: cfg, Env: host.DefaultEnv(), Catalogue: cat, Remediations: []remediations.Remediation{rem}}
	ctx, hangup := context.WithCancel(context.Background())
	answers := func() <-chan bool {
		// Nobody answers; the session goes away once the change is
		// waiting.
		go func() {
			for {
				if _, err := os.Stat(filepath.Join(cfg.StateDir, "pending-confirm")); err == nil {
					hangup()
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
		return nil
	}
	var out bytes.Buffer
	code, err := Fix(ctx, r, &out, FixOptions{Yes: true, Window: time.Minute, Answer: answers, Revert: []string{"/bin/true"}})
	if code != 1 || err != nil {
		t.Fatalf("exit %d, %v\n%s", code, err, out.String())
	}
	if b, _ := os.ReadFile(target); string(b) != "old\n" {
		t.Errorf("after the hangup: %q\n%s", b, out.String())
	}
	if !strings.Contains(out.String(), "demo: interrupted before it was confirmed: undone.") || !strings.Contains(out.String(), "Summary: not confirmed and undone: demo.") {
		t.Errorf("output:\n%s", out.String())
	}
}
