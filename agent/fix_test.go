package agent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/agent/config"
	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/agent/report/reporttest"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/remediations"
)

func TestConfirmWindow(t *testing.T) {
	cfg := config.Defaults()
	cfg.StateDir = t.TempDir()
	var out bytes.Buffer

	yes := func() <-chan bool { ch := make(chan bool, 1); ch <- true; return ch }
	if !confirmed(context.Background(), cfg, &out, "run-1", FixOptions{Window: time.Minute, Answer: yes}, false) {
		t.Error("a yes at the prompt was not taken")
	}
	start := time.Now()
	if confirmed(context.Background(), cfg, &out, "run-2", FixOptions{Window: 300 * time.Millisecond}, false) {
		t.Error("silence kept the change")
	}
	if time.Since(start) > 5*time.Second {
		t.Error("the window did not close")
	}
	// A second session confirms while the first waits.
	done := make(chan bool, 1)
	go func() {
		done <- confirmed(context.Background(), cfg, &out, "run-3", FixOptions{Window: 10 * time.Second}, false)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(cfg.StateDir, "pending-confirm")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no pending confirmation was announced")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := ConfirmPending(cfg, &out); err != nil {
		t.Fatal(err)
	}
	if !<-done {
		t.Error("confirmation from another session not taken")
	}
	if err := ConfirmPending(cfg, &out); err == nil {
		t.Error("confirmed with nothing pending")
	}
}

// TestShowPlanActions: the plan shows the notes, then every step in order,
// marking those that cannot be undone, the units it enables, then the
// file diffs.
func TestShowPlanActions(t *testing.T) {
	dir := t.TempDir()
	p := &remediations.Plan{
		Area:     "patches",
		Refusals: []string{"security update of pinned: the package is held"},
		Notes:    []string{"Security updates to install:", "  libfoo1 1.0-1 -> 1.0-1+deb12u1 (stable-security)"},
		Actions: []remediations.Action{
			{What: "apt-get install -y libfoo1=1.0-1+deb12u1"},
			{What: "apt-get install -y unattended-upgrades", Undo: func(context.Context) error { return nil }},
		},
		Enable: []remediations.EnableUnit{{Name: "apt-daily.timer", Start: true, Why: "runs the automatic security updates"}},
		Files:  []remediations.FileChange{{Path: filepath.Join(dir, "99vigie"), Content: []byte("APT::Periodic::Unattended-Upgrade \"1\";\n"), Mode: 0o644, Why: "unattended-upgrades"}},
	}
	var b strings.Builder
	if err := ShowPlan(&b, p); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	want := []string{"== patches: 4 change(s)", "Not changed: security update of pinned", "  libfoo1 1.0-1 -> 1.0-1+deb12u1 (stable-security)",
		"  1. apt-get install -y libfoo1=1.0-1+deb12u1 (cannot be undone)", "  2. apt-get install -y unattended-upgrades\n",
		"Units enabled next, unless already enabled (undo disables those it enabled):\n  systemctl enable --now apt-daily.timer: runs the automatic security updates\n",
		"+APT::Periodic::Unattended-Upgrade \"1\";"}
	at := 0
	for _, w := range want {
		i := strings.Index(out[at:], w)
		if i < 0 {
			t.Fatalf("plan lacks %q after offset %d:\n%s", w, at, out)
		}
		at += i + len(w)
	}
}

// TestShowPlanEscapesHostText: a plan quotes the host in its notes, steps
// and diffs; each line comes out escaped and bounded, the diff keeps its
// shape, and diff's own "\ No newline at end of file" keeps its backslash.
func TestShowPlanEscapesHostText(t *testing.T) {
	for _, tt := range reporttest.HostileText {
		dir := t.TempDir()
		path := filepath.Join(dir, "conf"+tt.In[:min(len(tt.In), 40)])
		if err := os.WriteFile(path, []byte("keep\nold "+tt.In), 0o644); err != nil {
			t.Fatal(err)
		}
		p := &remediations.Plan{
			Area:     "disks",
			Refusals: []string{"label " + tt.In + ": not touched"},
			Notes:    []string{"scratch " + tt.In + " is re-created"},
			Actions:  []remediations.Action{{What: "mkfs.ext4 -L " + tt.In}},
			Files:    []remediations.FileChange{{Path: path, Content: []byte("keep\nnew " + tt.In + "\n"), Mode: 0o644, Why: tt.In}},
		}
		var b strings.Builder
		if err := ShowPlan(&b, p); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		reporttest.CheckPrintable(t, tt.Name, out, true, report.DiffLineMax)
		want := []string{"Not changed: label " + tt.Shows, "scratch " + tt.Shows, "  1. mkfs.ext4 -L " + tt.Shows,
			"\n--- " + dir + "/conf", " (now)\n+++ " + dir + "/conf", " (after fix)\n@@ ", "\n keep\n", "\n\\ No newline at end of file\n"}
		if !strings.Contains(tt.In, "\n") { // a newline in the file makes two lines of the diff
			want = append(want, "\n-old "+tt.Shows, "\n+new "+tt.Shows)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: the plan lacks %q:\n%.3000s", tt.Name, w, out)
			}
		}
	}
}

// TestEveryRemediationIDResolves ties the catalogue to the remediation
// list: a check that names a fix names one that exists.
func TestEveryRemediationIDResolves(t *testing.T) {
	r, err := NewRun(config.Defaults(), host.DefaultEnv())
	if err != nil {
		t.Fatal(err)
	}
	cat, list := r.Catalogue, r.Remediations
	n := 0
	for _, a := range cat.Areas() {
		for _, m := range a.Checks() {
			if m.Remediation == nil {
				continue
			}
			n++
			if _, ok := remediations.Find(list, m.Remediation.ID); !ok {
				t.Errorf("%s names remediation %q, which is not in the list %v", m.ID, m.Remediation.ID, remediations.Names(list))
			}
		}
	}
	if n == 0 {
		t.Fatal("no check names a remediation")
	}
	for _, r := range list {
		if _, ok := cat.Area(r.Name()); !ok {
			t.Errorf("remediation %s has no area in the catalogue", r.Name())
		}
	}
}
