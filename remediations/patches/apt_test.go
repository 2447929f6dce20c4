package patches

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/checks"
	patchcheck "github.com/vigie-agent/vigie/checks/patches"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/internal/aptrepo"
	"github.com/vigie-agent/vigie/internal/unitstest"
	"github.com/vigie-agent/vigie/remediations"
)

// system is a private Debian root with the real apt and dpkg: libfoo1 has
// a fix in the security archive, barutils an ordinary update,
// unattended-upgrades is available but not installed, and the apt timers
// are not enabled.
type system struct {
	*aptrepo.Root
	env   *host.Env
	units *unitstest.Root
}

func newSystem(t *testing.T, extra ...func(build string) (installed, security []string)) *system {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	r := aptrepo.NewRoot(t)
	build := t.TempDir()
	installed := []string{aptrepo.Deb(t, build, "libfoo1", "1.0-1"), aptrepo.Deb(t, build, "barutils", "2.0-1")}
	stable := []string{aptrepo.Deb(t, build, "libfoo1", "1.0-1"), aptrepo.Deb(t, build, "barutils", "2.1-1"),
		aptrepo.DebFiles(t, build, "unattended-upgrades", "2.9.1+nmu3", map[string]string{"usr/bin/unattended-upgrade": "#!/bin/sh\n"})}
	security := []string{aptrepo.Deb(t, build, "libfoo1", "1.0-1+deb12u1")}
	for _, e := range extra {
		i, s := e(build)
		installed, security = append(installed, i...), append(security, s...)
	}
	r.Install(t, installed...)
	aptrepo.Publish(t, r.Repo, "stable", "Debian", stable...)
	aptrepo.Publish(t, r.Repo, "stable-security", "Debian-Security", security...)
	r.Sources(t, "stable", "stable-security")
	for _, u := range []string{"apt-daily.timer", "apt-daily-upgrade.timer"} {
		p := filepath.Join(r.Dir, "lib/systemd/system", u)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("[Timer]\nOnCalendar=daily\n\n[Install]\nWantedBy=timers.target\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &system{Root: r, env: &host.Env{Root: r.Dir, Proc: "/proc", Sys: "/sys", Cmd: host.ExecRunner{}}, units: &unitstest.Root{Dir: r.Dir}}
}

// engine applies plans to the system, enabling units in its root.
func (s *system) engine(t *testing.T) *remediations.Engine {
	return &remediations.Engine{Dir: t.TempDir(), Units: s.units}
}

func (s *system) options() Options {
	return Options{
		Check:       patchcheck.DefaultOptions(),
		Reboot:      "never",
		LockTimeout: 30 * time.Second,
		Systemd:     true,
	}
}

func (s *system) plan(t *testing.T, opt Options) *remediations.Plan {
	t.Helper()
	f := patchcheck.Gather(context.Background(), s.env, opt.Check)
	p, err := BuildPlan(context.Background(), s.env, f, opt)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (s *system) findings(t *testing.T) map[string]checks.Finding {
	t.Helper()
	out := map[string]checks.Finding{}
	for _, f := range patchcheck.Evaluate(patchcheck.Gather(context.Background(), s.env, patchcheck.DefaultOptions())) {
		out[f.ID] = f
	}
	return out
}

// TestSecurityOnly: the fix installs the security update and nothing
// else, turns unattended-upgrades on with security origins only, and the
// patches checks agree afterwards.
func TestSecurityOnly(t *testing.T) {
	s := newSystem(t)
	before := s.findings(t)
	if before[patchcheck.IDSecurityPending].Status != checks.Fail || before[patchcheck.IDAutoUpdates].Status != checks.Fail {
		t.Fatalf("before the fix: %+v / %+v", before[patchcheck.IDSecurityPending], before[patchcheck.IDAutoUpdates])
	}
	opt := s.options()
	p := s.plan(t, opt)
	var whats []string
	for _, a := range p.Actions {
		whats = append(whats, a.What)
	}
	var enable []string
	for _, u := range p.Enable {
		enable = append(enable, u.String())
	}
	if !slices.Equal(enable, []string{"systemctl enable --now apt-daily.timer", "systemctl enable --now apt-daily-upgrade.timer"}) {
		t.Errorf("units to enable: %q", enable)
	}
	if len(p.Actions) != 2 || !strings.HasSuffix(whats[0], "--only-upgrade -o DPkg::Lock::Timeout=30 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold libfoo1=1.0-1+deb12u1") ||
		!strings.HasSuffix(whats[1], " unattended-upgrades") {
		t.Fatalf("actions: %q", whats)
	}
	notes := strings.Join(p.Notes, "\n")
	if !strings.Contains(notes, "libfoo1 1.0-1 -> 1.0-1+deb12u1 (stable-security)") || strings.Contains(notes, "barutils") {
		t.Errorf("plan notes:\n%s", notes)
	}

	e := s.engine(t)
	run, err := e.Apply(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	v := s.Versions(t)
	if v["libfoo1"] != "1.0-1+deb12u1" || v["barutils"] != "2.0-1" || v["unattended-upgrades"] == "" {
		t.Errorf("installed after the fix: %v", v)
	}
	after := s.findings(t)
	for _, id := range []string{patchcheck.IDSecurityPending, patchcheck.IDAutoUpdates} {
		if after[id].Status != checks.Pass {
			t.Errorf("%s after the fix: %s %s", id, after[id].Status, after[id].Reason)
		}
	}
	if f := after[patchcheck.IDPending]; f.Status != checks.Fail || !strings.Contains(f.Reason, "barutils 2.0-1 -> 2.1-1") {
		t.Errorf("the ordinary update must still be pending: %s %s", f.Status, f.Reason)
	}
	if got := s.units.Enabled(); !slices.Equal(got, []string{"apt-daily-upgrade.timer", "apt-daily.timer"}) || !s.units.Active("apt-daily.timer") {
		t.Errorf("timers enabled: %v", got)
	}
	out, err := host.ExecRunner{}.Run(context.Background(), "apt-config", "dump")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := patchcheck.ParseAptConfig(out)
	if got := cfg.Lists["Unattended-Upgrade::Origins-Pattern"]; len(got) != 2 || !strings.Contains(got[1], "codename=${distro_codename}-security") {
		t.Errorf("origins after the fix: %q", got)
	}
	if cfg.Values["Unattended-Upgrade::Automatic-Reboot"] != "false" {
		t.Errorf("Automatic-Reboot = %q with patches.reboot: never", cfg.Values["Unattended-Upgrade::Automatic-Reboot"])
	}

	// Nothing left to do: a second plan is empty.
	if p := s.plan(t, opt); !p.Empty() {
		t.Errorf("second plan not empty: %+v", p)
	}
	// Undo puts the configuration back and turns off the timers it turned
	// on; the upgrade stays.
	if _, err := e.Undo(context.Background(), run, nil); err != nil {
		t.Fatal(err)
	}
	if got := s.units.Enabled(); len(got) != 0 || s.units.Active("apt-daily.timer") {
		t.Errorf("timers still enabled after undo: %v", got)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, DefaultAptConf)); !os.IsNotExist(err) {
		t.Errorf("%s left after undo: %v", DefaultAptConf, err)
	}
}

// TestHeldPackage: a held package's security update is refused in the
// plan and left alone; the rest goes on.
func TestHeldPackage(t *testing.T) {
	s := newSystem(t, func(build string) ([]string, []string) {
		return []string{aptrepo.Deb(t, build, "pinned", "1.0-1")}, []string{aptrepo.Deb(t, build, "pinned", "1.0-1+deb12u1")}
	})
	s.Hold(t, "pinned")
	p := s.plan(t, s.options())
	if len(p.Refusals) != 1 || !strings.Contains(p.Refusals[0], "pinned 1.0-1 -> 1.0-1+deb12u1") || !strings.Contains(p.Refusals[0], "held") {
		t.Errorf("refusals: %q", p.Refusals)
	}
	if _, err := s.engine(t).Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if v := s.Versions(t); v["pinned"] != "1.0-1" || v["libfoo1"] != "1.0-1+deb12u1" {
		t.Errorf("after the fix: %v", v)
	}
}

// lockDpkg takes dpkg's frontend lock the way apt does (fcntl), from this
// process, so apt-get run as a child finds it held.
func lockDpkg(t *testing.T, root string) func() {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(root, "var/lib/dpkg/lock-frontend"), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	return func() {
		lk.Type = syscall.F_UNLCK
		_ = syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk)
		f.Close()
	}
}

// apt's words for a lock it could not get, as apt 2.6 (Debian 12) says them
// for the frontend lock and for dpkg's own.
var lockMsg = regexp.MustCompile(`E: (Could not get lock|Unable to acquire the dpkg frontend lock)`)

// TestLock: a held dpkg lock is waited for; past the deadline the fix
// fails with apt's own message and leaves everything as it was.
func TestLock(t *testing.T) {
	t.Run("released in time", func(t *testing.T) {
		s := newSystem(t)
		unlock := lockDpkg(t, s.Dir)
		time.AfterFunc(2*time.Second, unlock)
		start := time.Now()
		if _, err := s.engine(t).Apply(context.Background(), s.plan(t, s.options())); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited < 2*time.Second {
			t.Errorf("apt did not wait for the lock: done in %s", waited)
		}
		if v := s.Versions(t); v["libfoo1"] != "1.0-1+deb12u1" {
			t.Errorf("after the wait: %v", v)
		}
	})
	t.Run("held past the deadline", func(t *testing.T) {
		s := newSystem(t)
		defer lockDpkg(t, s.Dir)()
		opt := s.options()
		opt.LockTimeout = time.Second
		p := s.plan(t, opt)
		_, err := s.engine(t).Apply(context.Background(), p)
		if err == nil || !lockMsg.MatchString(err.Error()) || !strings.Contains(err.Error(), "rolled back") {
			t.Fatalf("err = %v", err)
		}
		if v := s.Versions(t); v["libfoo1"] != "1.0-1" || v["unattended-upgrades"] != "" {
			t.Errorf("after the failure: %v", v)
		}
		if _, err := os.Stat(filepath.Join(s.Dir, DefaultAptConf)); !os.IsNotExist(err) {
			t.Errorf("%s left after the rollback: %v", DefaultAptConf, err)
		}
		if got := s.units.Enabled(); len(got) != 0 {
			t.Errorf("timers enabled by a failed run: %v", got)
		}
	})
}

// TestBrokenPackage: the update's own script fails; the error carries
// dpkg's and apt's words and the configuration is rolled back.
func TestBrokenPackage(t *testing.T) {
	s := newSystem(t, func(build string) ([]string, []string) {
		deb := aptrepo.DebFiles(t, build, "brokenfix", "1.0-1+deb12u1", map[string]string{"DEBIAN/postinst": "#!/bin/sh\necho 'brokenfix: cannot configure' >&2\nexit 1\n"})
		return []string{aptrepo.Deb(t, build, "brokenfix", "1.0-1")}, []string{deb}
	})
	_, err := s.engine(t).Apply(context.Background(), s.plan(t, s.options()))
	if err == nil || !strings.Contains(err.Error(), "E: Sub-process") || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, DefaultAptConf)); !os.IsNotExist(err) {
		t.Errorf("%s left after the rollback: %v", DefaultAptConf, err)
	}
}

// TestMaskedTimer: a masked apt timer is the operator's decision: the plan
// says so, installs the security update, and does not claim automatic
// updates work.
func TestMaskedTimer(t *testing.T) {
	s := newSystem(t)
	if err := os.MkdirAll(filepath.Join(s.Dir, "etc/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/null", filepath.Join(s.Dir, "etc/systemd/system/apt-daily.timer")); err != nil {
		t.Fatal(err)
	}
	p := s.plan(t, s.options())
	if len(p.Refusals) != 1 || !strings.Contains(p.Refusals[0], "apt-daily.timer is masked") {
		t.Fatalf("refusals: %q", p.Refusals)
	}
	if _, err := s.engine(t).Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	after := s.findings(t)
	if after[patchcheck.IDSecurityPending].Status != checks.Pass || after[patchcheck.IDAutoUpdates].Status != checks.Fail {
		t.Errorf("after the fix: %s / %s", after[patchcheck.IDSecurityPending].Status, after[patchcheck.IDAutoUpdates].Reason)
	}
	if got := s.units.Enabled(); !slices.Equal(got, []string{"apt-daily-upgrade.timer"}) {
		t.Errorf("enabled: %v", got)
	}
}
