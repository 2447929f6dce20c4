package patches

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hosttest"
)

func TestReboot(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		status checks.Status
		reason string
	}{
		{"newer kernel installed", map[string]string{
			"proc/sys/kernel/osrelease":   "6.1.0-18-amd64\n",
			"boot/vmlinuz-6.1.0-18-amd64": "", "boot/vmlinuz-6.1.0-21-amd64": "", "boot/vmlinuz-6.1.0-9-amd64": "",
		}, checks.Fail, "kernel 6.1.0-21-amd64 is installed, 6.1.0-18-amd64 is running"},
		{"running the newest", map[string]string{
			"proc/sys/kernel/osrelease":   "6.1.0-21-amd64\n",
			"boot/vmlinuz-6.1.0-18-amd64": "", "boot/vmlinuz-6.1.0-21-amd64": "",
		}, checks.Pass, "no reboot pending"},
		{"debian flag", map[string]string{
			"proc/sys/kernel/osrelease":   "6.1.0-21-amd64\n",
			"boot/vmlinuz-6.1.0-21-amd64": "",
			"run/reboot-required":         "*** System restart required ***\n",
			"run/reboot-required.pkgs":    "libc6\nlibssl3\nlibc6\n",
		}, checks.Fail, "/run/reboot-required exists (asked by libc6, libssl3)"},
		{"rhel kernels, rescue image ignored", map[string]string{
			"proc/sys/kernel/osrelease":                              "5.14.0-427.13.1.el9_4.x86_64\n",
			"boot/vmlinuz-5.14.0-427.13.1.el9_4.x86_64":              "",
			"boot/vmlinuz-5.14.0-362.24.1.el9_3.x86_64":              "",
			"boot/vmlinuz-0-rescue-7d2f6c5e0b0a4e61a1d1f4a1c3b2e5d9": "",
		}, checks.Pass, "no reboot pending"},
		{"no /boot (container)", map[string]string{"proc/sys/kernel/osrelease": "6.1.0-21-amd64\n"}, checks.Pass, "no reboot pending"},
		{"no procfs", map[string]string{}, checks.Error, "read running kernel release"},
	}
	for _, tt := range tests {
		root := hosttest.Tree(t, tt.files)
		env := &host.Env{Root: root, Proc: filepath.Join(root, "proc")}
		f := &Facts{}
		readRebootFlags(context.Background(), env, &f.Reboot)
		checkKernel(context.Background(), env, &f.Reboot)
		r := rebootRule(f)
		if r.Status != tt.status || !strings.Contains(r.Reason, tt.reason) {
			t.Errorf("%s: %s %q, want %s %q", tt.name, r.Status, r.Reason, tt.status, tt.reason)
		}
	}
}

func TestOSSupported(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		os     OSRelease
		status checks.Status
		reason string
	}{
		{OSRelease{ID: "debian", VersionID: "12"}, checks.Pass, "until 2028-06-30"},
		{OSRelease{ID: "debian", VersionID: "11"}, checks.Fail, "support ended 2026-08-31"},
		{OSRelease{ID: "ubuntu", VersionID: "22.04"}, checks.Pass, "until 2027-06-30"},
		{OSRelease{ID: "rocky", VersionID: "9.4"}, checks.Pass, "Rocky Linux 9"},
		{OSRelease{ID: "gentoo", VersionID: "2.15", PrettyName: "Gentoo"}, checks.Skip, "not in vigie's table"},
	}
	for _, tt := range tests {
		f := &Facts{Now: now, OS: tt.os, Support: supportOf(tt.os)}
		r := osRule(f)
		if r.Status != tt.status || !strings.Contains(r.Reason, tt.reason) {
			t.Errorf("%v: %s %q, want %s %q", tt.os, r.Status, r.Reason, tt.status, tt.reason)
		}
	}
}

func TestOSSupportSoonEnding(t *testing.T) {
	os := OSRelease{ID: "ubuntu", VersionID: "22.04"}
	f := &Facts{Now: time.Date(2027, 5, 1, 0, 0, 0, 0, time.UTC), OS: os, Support: supportOf(os)}
	if r := osRule(f); r.Status != checks.Pass || !strings.Contains(r.Reason, "60 days left, plan the upgrade") {
		t.Errorf("%s %q", r.Status, r.Reason)
	}
}

func TestManagerFor(t *testing.T) {
	for id, want := range map[string]string{"debian": "apt", "ubuntu": "apt", "rocky": "dnf", "almalinux": "dnf", "rhel": "dnf", "opensuse-leap": "zypper", "alpine": ""} {
		if got := managerFor(OSRelease{ID: id}); got != want {
			t.Errorf("%s: %q, want %q", id, got, want)
		}
	}
	if got := managerFor(OSRelease{ID: "linuxmint", Like: []string{"ubuntu", "debian"}}); got != "apt" {
		t.Errorf("ID_LIKE: %q", got)
	}
}

func TestStaleIndexIsNotAPass(t *testing.T) {
	now := time.Now()
	f := &Facts{Manager: "apt", Source: "apt list --upgradable", Now: now, MaxIndexAge: 48 * time.Hour, IndexNewest: now.Add(-30 * 24 * time.Hour)}
	r := pendingRule(isSecurity, "security updates")(f)
	if r.Status != checks.Error || !strings.Contains(r.Reason, "30 days old") {
		t.Errorf("stale, nothing listed: %s %q", r.Status, r.Reason)
	}
	f.IndexNewest = now.Add(-time.Hour)
	if r := pendingRule(isSecurity, "security updates")(f); r.Status != checks.Pass {
		t.Errorf("fresh, nothing listed: %s %q", r.Status, r.Reason)
	}
	f.IndexNewest = time.Time{}
	f.IndexErr = "no Release file under /var/lib/apt/lists: apt-get update has never succeeded"
	if r := indexRule(f); r.Status != checks.Fail || !strings.Contains(r.Reason, "never succeeded") {
		t.Errorf("never updated: %s %q", r.Status, r.Reason)
	}
}
