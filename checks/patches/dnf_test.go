package patches

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hosttest"
)

// capture loads a fixture made by testdata/make-rpm-fixtures.sh: its
// stdout and its exit status.
func capture(t *testing.T, path string) host.ReplayOutput {
	t.Helper()
	out, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSuffix(strings.TrimSuffix(path, ".txt"), ".xml")
	code := 0
	if b, err := os.ReadFile(filepath.Join("testdata", base+".exit")); err == nil {
		code, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	return host.ReplayOutput{Stdout: out, Code: code}
}

func findingsByID(f *Facts) map[string]checks.Finding {
	out := map[string]checks.Finding{}
	for _, fi := range Evaluate(f) {
		out[fi.ID] = fi
	}
	return out
}

// rhelRoot is a Rocky 9 file tree with dnf's cache refreshed an hour ago.
func rhelRoot(t *testing.T) *host.Env {
	root := hosttest.Tree(t, map[string]string{
		"etc/os-release": "NAME=\"Rocky Linux\"\nVERSION_ID=\"9.4\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nPRETTY_NAME=\"Rocky Linux 9.4 (Blue Onyx)\"\n",
		"var/cache/dnf/baseos-1a2b3c/repodata/repomd.xml": "<repomd/>",
		"proc/sys/kernel/osrelease":                       "5.14.0-427.13.1.el9_4.x86_64\n",
		"boot/vmlinuz-5.14.0-427.13.1.el9_4.x86_64":       "",
	})
	hour := time.Now().Add(-time.Hour)
	_ = os.Chtimes(filepath.Join(root, "var/cache/dnf/baseos-1a2b3c/repodata/repomd.xml"), hour, hour)
	return &host.Env{Root: root, Proc: filepath.Join(root, "proc")}
}

func TestDnfFixtures(t *testing.T) {
	tests := []struct {
		dir       string
		nr        string
		security  checks.Status
		secReason string
		pending   string
		reboot    checks.Status
	}{
		{"pending", "needs-restarting/needs-restarting-r-after-upgrade.txt", checks.Fail,
			"2 security updates pending: bash:x86_64 5.1.8-9.el9 (RLSA-2024:2345; Moderate; baseos); openssl-libs:x86_64 1:3.0.7-27.el9 (RLSA-2024:1234; Important; baseos)",
			"6 updates pending", checks.Fail},
		{"uptodate", "needs-restarting/needs-restarting-r-before-upgrade.txt", checks.Pass, "no security updates pending", "no updates pending", checks.Pass},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			env := rhelRoot(t)
			env.Cmd = host.Replay{
				"dnf -q --cacheonly updateinfo list --security": capture(t, "dnf/"+tt.dir+"/updateinfo-list-security.txt"),
				"dnf -q --cacheonly check-update":               capture(t, "dnf/"+tt.dir+"/check-update.txt"),
				"dnf -q needs-restarting -r":                    capture(t, "dnf/"+tt.nr),
			}
			f := Gather(context.Background(), env, DefaultOptions())
			if f.Manager != "dnf" {
				t.Fatalf("manager %q", f.Manager)
			}
			got := findingsByID(f)
			if fi := got[IDSecurityPending]; fi.Status != tt.security || !strings.Contains(fi.Reason, tt.secReason) {
				t.Errorf("security: %s %q", fi.Status, fi.Reason)
			}
			if fi := got[IDPending]; !strings.Contains(fi.Reason, tt.pending) {
				t.Errorf("pending: %s %q", fi.Status, fi.Reason)
			}
			if fi := got[IDReboot]; fi.Status != tt.reboot {
				t.Errorf("reboot: %s %q", fi.Status, fi.Reason)
			}
			if fi := got[IDOSSupported]; fi.Status != checks.Pass || !strings.Contains(fi.Reason, "Rocky Linux 9") {
				t.Errorf("os: %s %q", fi.Status, fi.Reason)
			}
		})
	}
}

func TestDnfUnreachable(t *testing.T) {
	env := rhelRoot(t)
	unreach := capture(t, "dnf/unreachable/updateinfo-list-security.txt")
	stderr, _ := os.ReadFile("testdata/dnf/unreachable/updateinfo-list-security.stderr")
	unreach.Err = &host.CommandError{Argv: []string{"dnf"}, Err: host.ExitStatus(unreach.Code), Stderr: strings.TrimSpace(string(stderr))}
	env.Cmd = host.Replay{
		"dnf -q --cacheonly updateinfo list --security": unreach,
		"dnf -q --cacheonly check-update":               capture(t, "dnf/unreachable/check-update.txt"),
		"dnf -q needs-restarting -r":                    capture(t, "dnf/needs-restarting/needs-restarting-r-before-upgrade.txt"),
	}
	got := findingsByID(Gather(context.Background(), env, DefaultOptions()))
	if fi := got[IDSecurityPending]; fi.Status != checks.Error || !strings.Contains(fi.Reason, "Failed to download metadata") {
		t.Errorf("unreachable repository: %s %q", fi.Status, fi.Reason)
	}
}

func TestNeedsRestartingMissing(t *testing.T) {
	env := rhelRoot(t)
	env.Cmd = host.Replay{
		"dnf -q --cacheonly updateinfo list --security": capture(t, "dnf/uptodate/updateinfo-list-security.txt"),
		"dnf -q --cacheonly check-update":               capture(t, "dnf/uptodate/check-update.txt"),
		// dnf without dnf-plugins-core: exit 1, and no "Reboot is required".
		"dnf -q needs-restarting -r": {Stdout: []byte("No such command: needs-restarting. Please use /usr/bin/dnf --help\n"), Code: 1},
	}
	got := findingsByID(Gather(context.Background(), env, DefaultOptions()))
	if fi := got[IDReboot]; fi.Status != checks.Error {
		t.Errorf("missing plugin read as %s %q", fi.Status, fi.Reason)
	}
}

func TestZypperFixtures(t *testing.T) {
	for _, tt := range []struct {
		dir      string
		security checks.Status
		reason   string
	}{
		{"pending", checks.Fail, "RLSA-2024:1234; important; CVE-2023-5678,CVE-2024-0727"},
		{"uptodate", checks.Pass, "no security updates pending"},
	} {
		t.Run(tt.dir, func(t *testing.T) {
			root := hosttest.Tree(t, map[string]string{
				"etc/os-release":                                  "NAME=\"openSUSE Leap\"\nVERSION_ID=\"15.6\"\nID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\n",
				"proc/sys/kernel/osrelease":                       "6.4.0-150600.23.25-default\n",
				"var/cache/zypp/raw/repo-oss/repodata/repomd.xml": "<repomd/>",
			})
			env := &host.Env{Root: root, Proc: filepath.Join(root, "proc"), Cmd: host.Replay{
				"zypper --non-interactive --xmlout --no-refresh list-patches": capture(t, "zypper/"+tt.dir+"/list-patches.xml"),
				"zypper --non-interactive --xmlout --no-refresh list-updates": capture(t, "zypper/"+tt.dir+"/list-updates.xml"),
			}}
			got := findingsByID(Gather(context.Background(), env, DefaultOptions()))
			if fi := got[IDSecurityPending]; fi.Status != tt.security || !strings.Contains(fi.Reason, tt.reason) {
				t.Errorf("security: %s %q", fi.Status, fi.Reason)
			}
		})
	}
}

// TestZypperUnreachable: zypper exits 106 with empty lists when a
// repository cannot be read, which must not read as "up to date".
func TestZypperUnreachable(t *testing.T) {
	root := hosttest.Tree(t, map[string]string{
		"etc/os-release":            "NAME=\"openSUSE Leap\"\nVERSION_ID=\"15.6\"\nID=\"opensuse-leap\"\n",
		"proc/sys/kernel/osrelease": "6.4.0-150600.23.25-default\n",
	})
	env := &host.Env{Root: root, Proc: filepath.Join(root, "proc"), Cmd: host.Replay{
		"zypper --non-interactive --xmlout --no-refresh list-patches": capture(t, "zypper/unreachable/list-patches-security.xml"),
		"zypper --non-interactive --xmlout --no-refresh list-updates": capture(t, "zypper/unreachable/list-updates.xml"),
	}}
	got := findingsByID(Gather(context.Background(), env, DefaultOptions()))
	if fi := got[IDSecurityPending]; fi.Status != checks.Error {
		t.Errorf("unreachable repository read as %s %q", fi.Status, fi.Reason)
	}
}
