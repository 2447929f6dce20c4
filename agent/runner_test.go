package agent

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
)

// area is a minimal checks.Area whose behaviour the runner tests choose.
type area struct {
	name string
	ids  []string
	run  func(ctx context.Context) []checks.Finding
}

func (a area) Name() string { return a.name }
func (a area) Checks() []checks.Meta {
	var out []checks.Meta
	for _, id := range a.ids {
		out = append(out, checks.Meta{ID: id, Title: id, Severity: checks.High})
	}
	return out
}
func (a area) Run(ctx context.Context, _ *host.Env) []checks.Finding { return a.run(ctx) }

func TestRunChecksIsolatesAreas(t *testing.T) {
	passing := area{name: "good", ids: []string{"good.a", "good.b"}, run: func(context.Context) []checks.Finding {
		return []checks.Finding{checks.NewFinding(checks.Meta{ID: "good.a", Severity: checks.High}, checks.Passf("ok"))}
	}}
	slow := area{name: "slow", ids: []string{"slow.a"}, run: func(ctx context.Context) []checks.Finding {
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
		return nil
	}}
	crashing := area{name: "crash", ids: []string{"crash.a"}, run: func(context.Context) []checks.Finding {
		panic("boom")
	}}
	cat, err := checks.NewCatalogue(passing, slow, crashing)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got := RunChecks(context.Background(), cat, host.DefaultEnv(), checks.Profiles["baseline"], checks.Selection{}, 200*time.Millisecond)
	if d := time.Since(start); d > time.Second {
		t.Errorf("run took %s: the deadline did not hold", d)
	}
	want := map[string]struct {
		status checks.Status
		reason string
	}{
		"good.a":  {checks.Pass, "ok"},
		"good.b":  {checks.Error, "returned no result"},
		"slow.a":  {checks.Error, "did not finish within 200ms"},
		"crash.a": {checks.Error, "crashed"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d findings: %+v", len(got), got)
	}
	for _, f := range got {
		w := want[f.ID]
		if f.Status != w.status || !strings.Contains(f.Reason, w.reason) {
			t.Errorf("%s: %s %q, want %s %q", f.ID, f.Status, f.Reason, w.status, w.reason)
		}
	}
}

func TestCatalogueRejectsDuplicates(t *testing.T) {
	a := area{name: "a", ids: []string{"a.x"}}
	if _, err := checks.NewCatalogue(a, a); err == nil {
		t.Error("duplicate ids accepted")
	}
	if _, err := checks.NewCatalogue(area{name: "a", ids: []string{"b.x"}}); err == nil {
		t.Error("id outside its area accepted")
	}
}

func TestFailingThreshold(t *testing.T) {
	mk := func(s checks.Status, sev checks.Severity) checks.Finding {
		return checks.NewFinding(checks.Meta{ID: "a.b", Severity: sev}, checks.Result{Status: s})
	}
	tests := []struct {
		f         checks.Finding
		threshold checks.Severity
		want      bool
	}{
		{mk(checks.Fail, checks.Medium), checks.Low, true},
		{mk(checks.Fail, checks.Medium), checks.High, false},
		{mk(checks.Error, checks.High), checks.High, true},
		{mk(checks.Skip, checks.Critical), checks.Info, false},
		{mk(checks.Pass, checks.Critical), checks.Info, false},
	}
	for _, tt := range tests {
		r := &report.Report{Findings: []checks.Finding{tt.f}}
		if got := r.Failing(tt.threshold); got != tt.want {
			t.Errorf("%s %s at %s: %v", tt.f.Status, tt.f.Severity, tt.threshold, got)
		}
	}
}

// TestDeadlineStopsWork runs an area whose command starts a child that
// would outlive it: past the deadline the whole process group is killed,
// the area returns, and neither a process nor a goroutine is left behind.
func TestDeadlineStopsWork(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("no bash: the test needs a real command")
	}
	marker := fmt.Sprintf("vigie-deadline-%d", time.Now().UnixNano())
	var runErr error
	stuck := area{name: "stuck", ids: []string{"stuck.a"}, run: func(ctx context.Context) []checks.Finding {
		// The child sleeps in the background, holding stdout open; the
		// parent waits for it.
		_, runErr = host.ExecRunner{}.Run(ctx, "bash", "-c", "(exec -a "+marker+" sleep 30) & wait")
		return nil
	}}
	cat, err := checks.NewCatalogue(stuck)
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	start := time.Now()
	got := RunChecks(context.Background(), cat, host.DefaultEnv(), checks.Profiles["baseline"], checks.Selection{}, 300*time.Millisecond)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("run took %s: the command outlived the deadline", d)
	}
	if len(got) != 1 || got[0].Status != checks.Error || !strings.Contains(got[0].Reason, "did not finish within 300ms") || strings.Contains(got[0].Reason, "still running") {
		t.Fatalf("findings: %+v", got)
	}
	if runErr == nil || !strings.Contains(runErr.Error(), "deadline exceeded") {
		t.Errorf("the command's error does not say it was stopped: %v", runErr)
	}
	waitFor(t, func() bool { return !processRunning(marker) }, "the background child was not killed")
	waitFor(t, func() bool { return runtime.NumGoroutine() <= before }, fmt.Sprintf("goroutines: %d before, %d after", before, runtime.NumGoroutine()))
}

// TestDeadlineGivesUpOnDeafArea bounds the wait for an area that ignores
// its context: the run still ends, and says so.
func TestDeadlineGivesUpOnDeafArea(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	deaf := area{name: "deaf", ids: []string{"deaf.a"}, run: func(context.Context) []checks.Finding {
		<-release
		return nil
	}}
	cat, err := checks.NewCatalogue(deaf)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got := RunChecks(context.Background(), cat, host.DefaultEnv(), checks.Profiles["baseline"], checks.Selection{}, 100*time.Millisecond)
	if d := time.Since(start); d > areaGrace+time.Second {
		t.Errorf("run took %s", d)
	}
	if len(got) != 1 || !strings.Contains(got[0].Reason, "still running") {
		t.Fatalf("findings: %+v", got)
	}
}

func waitFor(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processRunning looks for a process whose command line starts with name.
func processRunning(name string) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.HasPrefix(string(b), name+"\x00") {
			return true
		}
	}
	return false
}
