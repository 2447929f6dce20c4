package remediations

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/internal/unitstest"
)

// bothUnits asks for the unit the operator enabled already (at boot only)
// and for a new one, enabled and started.
var bothUnits = []EnableUnit{{Name: "old.service", Why: "already on"}, {Name: "new.service", Start: true, Why: "needed"}}

// assertOnlyOld: new.service disabled and stopped again, old.service, the
// operator's, still enabled, and exactly the calls wanted (", "-joined)
// made since units was created.
func assertOnlyOld(t *testing.T, units *unitstest.Root, wantCalls string) {
	t.Helper()
	if got := units.Enabled(); !slices.Equal(got, []string{"old.service"}) {
		t.Errorf("enabled: %v, want only old.service", got)
	}
	if units.Active("new.service") {
		t.Error("new.service still running")
	}
	if got := strings.Join(units.Calls, ", "); got != wantCalls {
		t.Errorf("calls %q, want %q", got, wantCalls)
	}
}

// TestUnitsReversed: the engine enables only what is not enabled, records
// it in the journal before asking, and disables exactly that on undo, on a
// rollback, whatever step failed.
func TestUnitsReversed(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		failAt  string // AfterStep name
		verify  error
		refuse  error // the service manager refuses to enable
		wantErr string
		// calls made by Apply, then by Undo for an applied run
		wantApply, wantUndo string
	}{
		{name: "applied, then undone", wantApply: "enable --now new.service", wantUndo: "disable --now new.service"},
		{name: "verification fails", verify: boom, wantErr: "every change of this run rolled back",
			wantApply: "enable --now new.service, disable --now new.service"},
		{name: "fails right after the enable", failAt: "enable new.service", wantErr: "every change of this run rolled back",
			wantApply: "enable --now new.service, disable --now new.service"},
		{name: "enable refused", refuse: boom, wantErr: "systemctl enable --now new.service: boom (every change of this run rolled back)",
			wantApply: "enable --now new.service, disable --now new.service"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			units := &unitstest.Root{Dir: f.dir, Refuse: tt.refuse}
			var activeAtVerify bool
			e := &Engine{Dir: f.state, Units: units, AfterStep: func(step string) error {
				if step == tt.failAt {
					return boom
				}
				return nil
			}}
			n := 0
			p := f.plan(&n, nil, nil, tt.verify)
			verify := p.Verify
			p.Verify = func(ctx context.Context) error {
				// Units are enabled before the checks run again.
				activeAtVerify = units.Active("new.service")
				return verify(ctx)
			}
			p.Enable = bothUnits
			run, err := e.Apply(context.Background(), p)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if got := strings.Join(units.Calls, ", "); got != tt.wantApply {
				t.Errorf("apply: calls %q, want %q", got, tt.wantApply)
			}
			runs, _ := e.Runs()
			if len(runs) != 1 || !slices.Equal(runs[0].Enabled, []EnabledUnit{{Name: "new.service", Started: true}}) {
				t.Fatalf("journal: %+v", runs)
			}
			if tt.wantErr != "" {
				f.assertUntouched(t)
				assertOnlyOld(t, units, tt.wantApply)
				return
			}
			if !activeAtVerify || !slices.Equal(units.Enabled(), []string{"new.service", "old.service"}) {
				t.Fatalf("after apply: enabled %v, new.service active at verify %v", units.Enabled(), activeAtVerify)
			}
			units.Calls = nil
			if _, err := e.Undo(context.Background(), run, nil); err != nil {
				t.Fatal(err)
			}
			f.assertUntouched(t)
			assertOnlyOld(t, units, tt.wantUndo)
		})
	}
}

// TestUnitsJournal: the journal says what was enabled in words an
// operator reads, and a journal written before units were journaled
// still loads and undoes.
func TestUnitsJournal(t *testing.T) {
	f := newFixture(t)
	e := &Engine{Dir: f.state, Units: &unitstest.Root{Dir: f.dir}}
	n := 0
	p := f.plan(&n, nil, nil, nil)
	p.Enable = []EnableUnit{{Name: "new.service"}}
	run, err := e.Apply(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(f.state, run, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "\"enabled\": [\n    {\n      \"name\": \"new.service\"\n    }\n  ]"; !strings.Contains(string(b), want) {
		t.Errorf("manifest.json lacks %q:\n%s", want, b)
	}

	// An applied run of an older vigie: no "enabled".
	old := newFixture(t)
	dir := filepath.Join(old.state, "20240101T000000.000000Z-00000000")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	manifest := `{"run": "20240101T000000.000000Z-00000000", "area": "test", "state": "applied", "started": "2024-01-01T00:00:00Z",
 "files": [{"path": "` + old.created + `", "existed": false, "mode": 0, "uid": -1, "gid": -1}]}`
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(old.created), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old.created, []byte("Setting first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	units := &unitstest.Root{Dir: old.dir}
	oe := &Engine{Dir: old.state, Units: units}
	m, err := oe.Undo(context.Background(), "", nil)
	if err != nil || m.Enabled != nil || m.State != StateUndone {
		t.Fatalf("undo of an old run: %+v, %v", m, err)
	}
	old.assertUntouched(t)
	assertOnlyOld(t, units, "")
}

// TestUnitsNeedAManager: a plan that enables units is refused, before any
// change, by an engine that has no service manager to ask.
func TestUnitsNeedAManager(t *testing.T) {
	f := newFixture(t)
	n := 0
	p := f.plan(&n, nil, nil, nil)
	p.Enable = bothUnits
	if _, err := (&Engine{Dir: f.state}).Apply(context.Background(), p); err == nil || !strings.Contains(err.Error(), "no service manager") {
		t.Fatalf("err = %v", err)
	}
	f.assertUntouched(t)
}
