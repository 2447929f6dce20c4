package patches

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hosttest"
	"github.com/vigie-agent/vigie/internal/aptrepo"
)

// recorder runs commands through next and keeps every command line.
type recorder struct {
	next host.Runner
	mu   sync.Mutex
	argv [][]string
}

func (r *recorder) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	r.mu.Lock()
	r.argv = append(r.argv, append([]string{name}, args...))
	r.mu.Unlock()
	return r.next.Run(ctx, name, args...)
}

// TestRealAptOnImage: on an image, this machine's real apt reads the
// image's files and nothing of this machine's: its dpkg status, lists and
// sources (a security update pending in the image), its apt.conf.d (the
// image turns unattended-upgrades on); every command goes through the
// image's APT_CONFIG, removed afterwards; nothing refreshes the index,
// whatever the options say, and no reboot flag or kernel is read.
func TestRealAptOnImage(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	a := aptrepo.NewRoot(t)
	build := t.TempDir()
	a.Install(t, aptrepo.Deb(t, build, "libfoo1", "1.0-1"), aptrepo.Deb(t, build, "barutils", "2.0-1"))
	aptrepo.Publish(t, a.Repo, "stable-security", "Debian-Security", aptrepo.Deb(t, build, "libfoo1", "1.0-1+deb12u1"))
	aptrepo.Publish(t, a.Repo, "stable", "Debian", aptrepo.Deb(t, build, "barutils", "2.1-1"), aptrepo.Deb(t, build, "libfoo1", "1.0-1"))
	a.Sources(t, "stable", "stable-security")
	// An image's dpkg database names dpkg itself, with the architecture.
	status, err := os.OpenFile(filepath.Join(a.Dir, "var/lib/dpkg/status"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := status.WriteString("\nPackage: dpkg\nStatus: install ok installed\nVersion: 1.21.22\nArchitecture: amd64\nMaintainer: test <test@example.invalid>\nDescription: dpkg\n"); err != nil {
		t.Fatal(err)
	}
	status.Close()
	conf := "APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"1\";\nUnattended-Upgrade::Origins-Pattern { \"origin=Debian,label=Debian-Security\"; };\n"
	if err := os.WriteFile(filepath.Join(a.Dir, "etc/apt/apt.conf.d/20auto-upgrades"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// Were apt to read this process's APT_CONFIG, it would fail.
	t.Setenv("APT_CONFIG", "/nonexistent/apt.conf")

	rec := &recorder{next: host.ExecRunner{}}
	env := &host.Env{Root: a.Dir, Proc: "/proc", Sys: "/sys", Cmd: rec, Image: true}
	opt := DefaultOptions()
	opt.Refresh = true
	f := Gather(context.Background(), env, opt)
	if f.UpdatesErr != "" || f.Auto.Err != "" {
		t.Fatalf("updates: %s; auto: %s", f.UpdatesErr, f.Auto.Err)
	}
	got := findingsByID(f)
	if fi := got[IDSecurityPending]; fi.Status != checks.Fail || !strings.Contains(fi.Reason, "libfoo1 1.0-1 -> 1.0-1+deb12u1 (stable-security") {
		t.Errorf("security-pending: %s %q", fi.Status, fi.Reason)
	}
	if fi := got[IDSecurityPending]; !strings.Contains(fi.Evidence[0].Source, "apt list --upgradable (this machine's package manager, on the image's files)") {
		t.Errorf("source: %+v", fi.Evidence[0])
	}
	if fi := got[IDPending]; fi.Status != checks.Fail || !strings.HasPrefix(fi.Reason, "2 updates pending") {
		t.Errorf("pending: %s %q", fi.Status, fi.Reason)
	}
	if !strings.Contains(strings.Join(f.Auto.Details, "\n"), `APT::Periodic::Unattended-Upgrade = "1" (apt-config)`) {
		t.Errorf("the image's apt.conf.d was not read: %q", f.Auto.Details)
	}
	if !strings.HasPrefix(f.Reboot.Err, "not read on an image") || f.Reboot.RunningKernel != "" {
		t.Errorf("reboot on an image: %+v", f.Reboot)
	}
	var confFile string
	for _, argv := range rec.argv {
		line := strings.Join(argv, " ")
		if len(argv) < 3 || argv[0] != "env" || !strings.HasPrefix(argv[1], "APT_CONFIG=") || argv[2] == "apt-get" && argv[3] == "-q" {
			t.Errorf("command on an image: %s", line)
			continue
		}
		confFile = strings.TrimPrefix(argv[1], "APT_CONFIG=")
	}
	if _, err := os.Stat(confFile); confFile == "" || !os.IsNotExist(err) {
		t.Errorf("the image's APT_CONFIG %q is left behind: %v", confFile, err)
	}
}

// TestRpmOnImage: on an image, dnf and zypper are pointed at its root and
// its repositories; dnf needs-restarting, which asks the running system,
// is not run.
func TestRpmOnImage(t *testing.T) {
	root := hosttest.Tree(t, map[string]string{
		"etc/os-release":   "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n",
		"etc/dnf/dnf.conf": "[main]\ngpgcheck=1\n",
	})
	rec := &recorder{next: host.Replay{}}
	Gather(context.Background(), &host.Env{Root: root, Proc: "/proc", Cmd: rec, Image: true}, DefaultOptions())
	if len(rec.argv) != 2 {
		t.Fatalf("dnf commands: %q", rec.argv)
	}
	for _, argv := range rec.argv {
		line := strings.Join(argv, " ")
		want := "dnf --installroot=" + root + " --setopt=reposdir=" + root + "/etc/yum.repos.d --config=" + root + "/etc/dnf/dnf.conf -q --cacheonly "
		if !strings.HasPrefix(line, want) {
			t.Errorf("dnf on an image: %s\nwant %s...", line, want)
		}
	}
	suse := hosttest.Tree(t, map[string]string{"etc/os-release": "ID=\"opensuse-leap\"\nVERSION_ID=\"15.6\"\n"})
	rec = &recorder{next: host.Replay{}}
	Gather(context.Background(), &host.Env{Root: suse, Proc: "/proc", Cmd: rec, Image: true}, DefaultOptions())
	if len(rec.argv) == 0 || strings.Join(rec.argv[0][:3], " ") != "zypper --root "+suse {
		t.Errorf("zypper on an image: %q", rec.argv)
	}
}
