package patches

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/checks"
	patchcheck "github.com/vigie-agent/vigie/checks/patches"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/internal/testenv"
	"github.com/vigie-agent/vigie/internal/unitstest"
	"github.com/vigie-agent/vigie/remediations"
)

// dnfRoot points the real dnf at a private install root, the way
// checks/patches/testdata/make-rpm-fixtures.sh runs it; every other
// command runs as is. Run is the host.Runner of the patches checks,
// RunEnv the Options.Run of the remediation: both go to the same root.
type dnfRoot struct{ dir string }

func (d dnfRoot) args(name string, args []string) []string {
	if name != "dnf" {
		return args
	}
	return append([]string{"--installroot=" + d.dir, "--setopt=reposdir=" + filepath.Join(d.dir, "etc/yum.repos.d"),
		"--releasever=9", "--noplugins"}, args...)
}

func (d dnfRoot) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	return host.ExecRunner{}.Run(ctx, name, d.args(name, args)...)
}

func (d dnfRoot) RunEnv(ctx context.Context, env []string, name string, args ...string) ([]byte, error) {
	return remediations.Run(ctx, env, name, d.args(name, args)...)
}

// rpmSpec is one test package: empty payload unless files are given.
type rpmSpec struct {
	name, version, release string
	extra                  string // more preamble lines (Provides:, Requires:)
	install                string // %install script
	files                  string // %files lines
}

const rockyOSRelease = `NAME="Rocky Linux"
VERSION="9.4 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"
ANSI_COLOR="0;32"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
SUPPORT_END="2032-05-31"
ROCKY_SUPPORT_PRODUCT="Rocky-Linux-9"
ROCKY_SUPPORT_PRODUCT_VERSION="9.4"
REDHAT_SUPPORT_PRODUCT="Rocky Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.4"
`

// Rocky Linux 9's stock /etc/dnf/dnf.conf.
const rockyDnfConf = `[main]
gpgcheck=1
installonly_limit=3
clean_requirements_on_remove=True
best=True
skip_if_unavailable=False
`

// Advisories in the layout of Rocky Linux 9's updateinfo.xml: a security
// fix for libfoo, a bug fix for barutils.
const dnfUpdateinfo = `<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="releng@rockylinux.org" status="final" type="security" version="2">
    <id>RLSA-2024:1111</id>
    <title>Important: libfoo security update</title>
    <issued date="2024-04-30 10:12:44"/>
    <updated date="2024-04-30 10:12:44"/>
    <release>Rocky Linux 9</release>
    <pushcount>1</pushcount>
    <severity>Important</severity>
    <summary>An update is available for libfoo.</summary>
    <description>libfoo: buffer overflow (CVE-2024-1111)</description>
    <references>
      <reference href="https://errata.rockylinux.org/RLSA-2024:1111" id="RLSA-2024:1111" type="self" title="RLSA-2024:1111"/>
      <reference href="https://www.cve.org/CVERecord?id=CVE-2024-1111" id="CVE-2024-1111" type="cve" title="CVE-2024-1111"/>
    </references>
    <pkglist>
      <collection short="rocky-linux-9-x86-64-baseos-rpms">
        <name>rocky-linux-9-x86-64-baseos-rpms</name>
        <package name="libfoo" version="1.0" release="2" epoch="0" arch="noarch" src="libfoo-1.0-2.src.rpm" filename="libfoo-1.0-2.noarch.rpm">
          <filename>libfoo-1.0-2.noarch.rpm</filename>
        </package>
      </collection>
    </pkglist>
  </update>
  <update from="releng@rockylinux.org" status="final" type="bugfix" version="2">
    <id>RLBA-2024:2222</id>
    <title>barutils bug fix update</title>
    <issued date="2024-04-30 12:20:05"/>
    <updated date="2024-04-30 12:20:05"/>
    <release>Rocky Linux 9</release>
    <pushcount>1</pushcount>
    <severity>None</severity>
    <summary>An update is available for barutils.</summary>
    <description>barutils: fixes a crash.</description>
    <references>
      <reference href="https://errata.rockylinux.org/RLBA-2024:2222" id="RLBA-2024:2222" type="self" title="RLBA-2024:2222"/>
    </references>
    <pkglist>
      <collection short="rocky-linux-9-x86-64-baseos-rpms">
        <name>rocky-linux-9-x86-64-baseos-rpms</name>
        <package name="barutils" version="2.1" release="1" epoch="0" arch="noarch" src="barutils-2.1-1.src.rpm" filename="barutils-2.1-1.noarch.rpm">
          <filename>barutils-2.1-1.noarch.rpm</filename>
        </package>
      </collection>
    </pkglist>
  </update>
</updates>
`

func dnfMustRun(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func dnfWriteFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// buildRPMs builds the test packages with rpmbuild and returns their
// files by name-version-release.
func buildRPMs(t *testing.T, specs []rpmSpec) map[string]string {
	t.Helper()
	top := t.TempDir()
	out := map[string]string{}
	for _, s := range specs {
		nvr := s.name + "-" + s.version + "-" + s.release
		var b strings.Builder
		fmt.Fprintf(&b, "Name: %s\nVersion: %s\nRelease: %s\nSummary: %s test package\nLicense: MIT\nBuildArch: noarch\n", s.name, s.version, s.release, s.name)
		// No automatic requirements (a script's /bin/sh): nothing else is
		// installed in the root.
		b.WriteString("AutoReqProv: no\n")
		if s.extra != "" {
			b.WriteString(s.extra + "\n")
		}
		fmt.Fprintf(&b, "%%description\n%s (test package).\n", s.name)
		if s.install != "" {
			b.WriteString("%install\n" + s.install + "\n")
		}
		b.WriteString("%files\n" + s.files + "\n")
		spec := filepath.Join(top, nvr+".spec")
		dnfWriteFile(t, spec, b.String())
		dnfMustRun(t, "rpmbuild", "--quiet", "--define", "_topdir "+top, "-bb", spec)
		out[nvr] = filepath.Join(top, "RPMS/noarch", nvr+".noarch.rpm")
		if _, err := os.Stat(out[nvr]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// dnfSystem is a private Rocky-9-like root with the real dnf and rpm:
// libfoo has a security fix in the repository, barutils a bug fix,
// dnf-automatic is available but not installed and its timer is not
// enabled.
type dnfSystem struct {
	dir, repo string
	cmd       dnfRoot
	env       *host.Env
	units     *unitstest.Root
	rpmFlags  []string // --force-debian on Debian's rpm
}

func newDnfSystem(t *testing.T, rpms map[string]string, rpmFlags []string) *dnfSystem {
	t.Helper()
	dir := t.TempDir()
	s := &dnfSystem{dir: filepath.Join(dir, "root"), repo: filepath.Join(dir, "repo"), rpmFlags: rpmFlags}
	s.units = &unitstest.Root{Dir: s.dir}
	s.cmd = dnfRoot{dir: s.dir}
	s.env = &host.Env{Root: s.dir, Proc: "/proc", Sys: "/sys", Cmd: s.cmd}

	// The repository: the newer versions and dnf-automatic, with advisories.
	if err := os.MkdirAll(s.repo, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, nvr := range []string{"libfoo-1.0-2", "barutils-2.1-1", "dnf-automatic-4.0-1"} {
		b, err := os.ReadFile(rpms[nvr])
		if err != nil {
			t.Fatal(err)
		}
		dnfWriteFile(t, filepath.Join(s.repo, "Packages", filepath.Base(rpms[nvr])), string(b))
	}
	dnfMustRun(t, "createrepo_c", "--quiet", s.repo)
	ui := filepath.Join(dir, "updateinfo.xml")
	dnfWriteFile(t, ui, dnfUpdateinfo)
	dnfMustRun(t, "modifyrepo_c", "--mdtype=updateinfo", ui, filepath.Join(s.repo, "repodata"))

	// The root.
	dnfWriteFile(t, filepath.Join(s.dir, "etc/os-release"), rockyOSRelease)
	dnfWriteFile(t, filepath.Join(s.dir, "etc/dnf/dnf.conf"), rockyDnfConf)
	s.setBaseurl(t, "file://"+s.repo)
	dnfWriteFile(t, filepath.Join(s.dir, "usr/lib/systemd/system/dnf-automatic.timer"), "[Timer]\nOnCalendar=*-*-* 6:00\n\n[Install]\nWantedBy=timers.target\n")
	if err := os.MkdirAll(filepath.Join(s.dir, "var/lib/rpm"), 0o755); err != nil {
		t.Fatal(err)
	}
	dnfMustRun(t, "rpm", "--root", s.dir, "--initdb")
	dnfMustRun(t, "rpm", append(append([]string{"--root", s.dir, "-i", "--nodeps"}, rpmFlags...), rpms["libfoo-1.0-1"], rpms["barutils-2.0-1"])...)
	// A warm metadata cache, as dnf-makecache.timer keeps it: the checks
	// run dnf --cacheonly.
	if out, err := s.cmd.Run(context.Background(), "dnf", "-q", "makecache"); err != nil {
		t.Fatalf("dnf makecache: %v\n%s", err, out)
	}
	return s
}

func (s *dnfSystem) setBaseurl(t *testing.T, url string) {
	t.Helper()
	dnfWriteFile(t, filepath.Join(s.dir, "etc/yum.repos.d/rocky.repo"), `[baseos]
name=Rocky Linux $releasever - BaseOS
baseurl=`+url+`
gpgcheck=0
enabled=1
countme=1
metadata_expire=6h
`)
}

func (s *dnfSystem) options() Options {
	return Options{
		Check:       patchcheck.DefaultOptions(),
		Reboot:      "never",
		LockTimeout: 30 * time.Second,
		Systemd:     true,

		Run: s.cmd.RunEnv,
	}
}

// version is the installed version-release of a package, "" when it is
// not installed.
func (s *dnfSystem) version(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("rpm", "--root", s.dir, "-q", "--qf", "%{VERSION}-%{RELEASE}", name).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "is not installed") {
			return ""
		}
		t.Fatalf("rpm -q %s: %v\n%s", name, err, out)
	}
	return string(out)
}

func (s *dnfSystem) findings(t *testing.T) map[string]checks.Finding {
	t.Helper()
	out := map[string]checks.Finding{}
	for _, f := range patchcheck.Evaluate(patchcheck.Gather(context.Background(), s.env, patchcheck.DefaultOptions())) {
		out[f.ID] = f
	}
	return out
}

func (s *dnfSystem) timerLink() string {
	return filepath.Join(s.dir, "etc/systemd/system/timers.target.wants/dnf-automatic.timer")
}

// TestRealDnf runs the remediation with the real dnf and rpm against a
// local rpm-md repository, in a private install root.
func TestRealDnf(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	if os.Geteuid() != 0 {
		testenv.Missing(t, "needs root: rpm --root and dnf --installroot")
	}
	for _, bin := range []string{"dnf", "rpm", "rpmbuild", "createrepo_c", "modifyrepo_c"} {
		if _, err := exec.LookPath(bin); err != nil {
			testenv.Missing(t, "needs %s (apt-get install dnf rpm createrepo-c)", bin)
		}
	}
	// Debian's rpm keeps its database in ~/.rpmdb: a private HOME whose
	// .rpmmacros says /var/lib/rpm, as on Rocky, so that rpm and dnf agree
	// inside the root (as in make-rpm-fixtures.sh).
	home := t.TempDir()
	dnfWriteFile(t, filepath.Join(home, ".rpmmacros"), "%_dbpath /var/lib/rpm\n")
	t.Setenv("HOME", home)
	var rpmFlags []string
	// Debian's rpm refuses to install packages without --force-debian;
	// other rpms do not know the option.
	if exec.Command("rpm", "--force-debian", "--version").Run() == nil {
		rpmFlags = []string{"--force-debian"}
	}

	// dnf-automatic ships its automatic.conf as %config(noreplace), as
	// Rocky's does, with Rocky 9's default content.
	conf, err := filepath.Abs("testdata/automatic.conf.rocky9")
	if err != nil {
		t.Fatal(err)
	}
	rpms := buildRPMs(t, []rpmSpec{
		{name: "libfoo", version: "1.0", release: "1"},
		{name: "libfoo", version: "1.0", release: "2"},
		{name: "barutils", version: "2.0", release: "1"},
		{name: "barutils", version: "2.1", release: "1"},
		{name: "dnf-automatic", version: "4.0", release: "1",
			install: "mkdir -p %{buildroot}/usr/bin %{buildroot}/etc/dnf\n" +
				"printf '#!/bin/sh\\nexit 0\\n' > %{buildroot}/usr/bin/dnf-automatic\n" +
				"chmod 755 %{buildroot}/usr/bin/dnf-automatic\n" +
				"cp '" + conf + "' %{buildroot}/etc/dnf/automatic.conf",
			files: "/usr/bin/dnf-automatic\n%config(noreplace) /etc/dnf/automatic.conf"},
	})

	t.Run("security only", func(t *testing.T) {
		s := newDnfSystem(t, rpms, rpmFlags)
		opt := s.options()
		f := patchcheck.Gather(context.Background(), s.env, opt.Check)
		if f.Manager != "dnf" || f.UpdatesErr != "" {
			t.Fatalf("facts: manager %q, updates error %q", f.Manager, f.UpdatesErr)
		}
		ups := map[string]patchcheck.Update{}
		for _, u := range f.Updates {
			ups[u.Name] = u
		}
		if u := ups["libfoo"]; !u.Security || u.To != "1.0-2" || u.Severity != "Important" || !slices.Equal(u.Advisories, []string{"RLSA-2024:1111"}) {
			t.Errorf("libfoo: %+v", u)
		}
		if u, ok := ups["barutils"]; !ok || u.Security || u.To != "2.1-1" {
			t.Errorf("barutils: %+v (listed %v)", u, ok)
		}
		if len(f.Updates) != 2 {
			t.Errorf("updates: %+v", f.Updates)
		}
		if f.Auto.Enabled {
			t.Errorf("dnf-automatic already on: %+v", f.Auto)
		}
		before := s.findings(t)
		if before[patchcheck.IDSecurityPending].Status != checks.Fail || before[patchcheck.IDAutoUpdates].Status != checks.Fail {
			t.Fatalf("before the fix: %+v / %+v", before[patchcheck.IDSecurityPending], before[patchcheck.IDAutoUpdates])
		}

		p, err := BuildPlan(context.Background(), s.env, f, opt)
		if err != nil {
			t.Fatal(err)
		}
		var whats []string
		for _, a := range p.Actions {
			whats = append(whats, a.What)
		}
		if want := []string{"dnf -y -q upgrade --security", "dnf -y install dnf-automatic",
			"set apply_updates, upgrade_type in [commands] of /etc/dnf/automatic.conf (dnf-automatic applies security updates, and only those)"}; !slices.Equal(whats, want) {
			t.Fatalf("actions: %q, want %q", whats, want)
		}
		if len(p.Enable) != 1 || p.Enable[0].String() != "systemctl enable --now dnf-automatic.timer" {
			t.Fatalf("units to enable: %+v", p.Enable)
		}
		// The package's own automatic.conf is edited once installed.
		if len(p.Files) != 0 {
			t.Fatalf("files: %+v", p.Files)
		}
		notes := strings.Join(p.Notes, "\n")
		if !strings.Contains(notes, "libfoo 1.0-2 (baseos) [RLSA-2024:1111]") || strings.Contains(notes, "barutils") {
			t.Errorf("plan notes:\n%s", notes)
		}

		if _, err := (&remediations.Engine{Dir: t.TempDir(), Units: s.units}).Apply(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		if v := s.version(t, "libfoo"); v != "1.0-2" {
			t.Errorf("libfoo after the fix: %q", v)
		}
		if v := s.version(t, "barutils"); v != "2.0-1" {
			t.Errorf("barutils after the fix: %q (only security updates may be installed)", v)
		}
		if v := s.version(t, "dnf-automatic"); v != "4.0-1" {
			t.Errorf("dnf-automatic after the fix: %q", v)
		}
		confPath := filepath.Join(s.dir, "etc/dnf/automatic.conf")
		b, err := os.ReadFile(confPath)
		if err != nil {
			t.Fatal(err)
		}
		// The packaged file, edited: its other settings stay, and rpm has
		// nothing to set aside as .rpmnew.
		lines := strings.Split(string(b), "\n")
		if _, err := os.Stat(confPath + ".rpmnew"); !os.IsNotExist(err) {
			t.Errorf("automatic.conf.rpmnew exists: %v", err)
		}
		for _, want := range []string{"upgrade_type = security", "apply_updates = yes", "random_sleep = 0", "emit_via = stdio"} {
			if !slices.Contains(lines, want) {
				t.Errorf("automatic.conf lacks %q:\n%s", want, b)
			}
		}
		if _, err := os.Lstat(s.timerLink()); err != nil {
			t.Errorf("timer not enabled: %v", err)
		}
		if got := s.units.Enabled(); !slices.Equal(got, []string{"dnf-automatic.timer"}) {
			t.Errorf("timers enabled: %v", got)
		}

		after := s.findings(t)
		for _, id := range []string{patchcheck.IDSecurityPending, patchcheck.IDAutoUpdates} {
			if after[id].Status != checks.Pass {
				t.Errorf("%s after the fix: %s %s", id, after[id].Status, after[id].Reason)
			}
		}
		if f := after[patchcheck.IDPending]; f.Status != checks.Fail || !strings.Contains(f.Reason, "barutils 2.1-1") || strings.Contains(f.Reason, "libfoo") {
			t.Errorf("the ordinary update must still be pending, alone: %s %s", f.Status, f.Reason)
		}

		// Nothing left to do: a second plan is empty.
		p2, err := BuildPlan(context.Background(), s.env, patchcheck.Gather(context.Background(), s.env, opt.Check), opt)
		if err != nil {
			t.Fatal(err)
		}
		if !p2.Empty() {
			t.Errorf("second plan not empty: %+v", p2)
		}
	})

	t.Run("repository unreachable", func(t *testing.T) {
		s := newDnfSystem(t, rpms, rpmFlags)
		opt := s.options()
		p, err := BuildPlan(context.Background(), s.env, patchcheck.Gather(context.Background(), s.env, opt.Check), opt)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Actions) != 3 || len(p.Enable) != 1 || len(p.Files) != 0 {
			t.Fatalf("plan: %d actions, %d units, %d files", len(p.Actions), len(p.Enable), len(p.Files))
		}
		// The repository goes away after the facts were read: dnf's
		// cache is keyed by the baseurl, so it must fetch, and fails.
		s.setBaseurl(t, "file://"+filepath.Join(filepath.Dir(s.dir), "missing-repo"))
		_, err = (&remediations.Engine{Dir: t.TempDir(), Units: s.units}).Apply(context.Background(), p)
		if err == nil {
			t.Fatal("Apply succeeded with the repository gone")
		}
		const dnfSays = "Error: Failed to download metadata for repo 'baseos'"
		if !strings.Contains(err.Error(), dnfSays) || !strings.Contains(err.Error(), "dnf -y -q upgrade --security") || !strings.Contains(err.Error(), "rolled back") {
			t.Errorf("err = %v\nwant dnf's %q, the failing action and the rollback", err, dnfSays)
		}
		if _, err := os.Stat(filepath.Join(s.dir, "etc/dnf/automatic.conf")); !os.IsNotExist(err) {
			t.Errorf("automatic.conf left after the rollback: %v", err)
		}
		if v := s.version(t, "dnf-automatic"); v != "" {
			t.Errorf("dnf-automatic installed by a failed run: %q", v)
		}
		if v := s.version(t, "libfoo"); v != "1.0-1" {
			t.Errorf("libfoo after the failure: %q", v)
		}
		if _, err := os.Lstat(s.timerLink()); !os.IsNotExist(err) {
			t.Errorf("timer enabled by a failed run: %v", err)
		}
	})

	t.Run("rollback after the install", func(t *testing.T) {
		s := newDnfSystem(t, rpms, rpmFlags)
		opt := s.options()
		s.units.Refuse = errors.New("systemd said no")
		p, err := BuildPlan(context.Background(), s.env, patchcheck.Gather(context.Background(), s.env, opt.Check), opt)
		if err != nil {
			t.Fatal(err)
		}
		_, err = (&remediations.Engine{Dir: t.TempDir(), Units: s.units}).Apply(context.Background(), p)
		if err == nil || !strings.Contains(err.Error(), "systemd said no") {
			t.Fatalf("err = %v", err)
		}
		// The configuration was put back as the package had it before the
		// package went: rpm leaves no .rpmsave or .rpmnew behind.
		left, _ := filepath.Glob(filepath.Join(s.dir, "etc/dnf/automatic.conf*"))
		if len(left) != 0 {
			t.Errorf("left after the rollback: %v", left)
		}
		if v := s.version(t, "dnf-automatic"); v != "" {
			t.Errorf("dnf-automatic still installed: %q", v)
		}
	})
}
