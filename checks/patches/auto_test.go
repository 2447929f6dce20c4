package patches

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hosttest"
)

func debianRoot(t *testing.T, withTool, withTimers bool) *host.Env {
	t.Helper()
	files := map[string]string{"lib/systemd/system/apt-daily.timer": "", "lib/systemd/system/apt-daily-upgrade.timer": ""}
	if withTool {
		files["usr/bin/unattended-upgrade"] = "#!/usr/bin/python3\n"
	}
	root := hosttest.Tree(t, files)
	if withTimers {
		wants := filepath.Join(root, "etc/systemd/system/timers.target.wants")
		if err := os.MkdirAll(wants, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{"apt-daily.timer", "apt-daily-upgrade.timer"} {
			if err := os.Symlink("/lib/systemd/system/"+u, filepath.Join(wants, u)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return &host.Env{Root: root}
}

func TestAptAuto(t *testing.T) {
	tests := []struct {
		name             string
		dump             string
		withTool, timers bool
		status           checks.Status
		reason           string
	}{
		{"unattended-upgrades enabled", "apt-config-dump-debian12-unattended.txt", true, true, checks.Pass, "installs security updates automatically"},
		{"stock Debian 12", "apt-config-dump-debian12.txt", false, true, checks.Fail, "unattended-upgrades is not installed; APT::Periodic::Update-Package-Lists is unset"},
		{"timers disabled", "apt-config-dump-debian12-unattended.txt", true, false, checks.Fail, "apt-daily-upgrade.timer is \"disabled\""},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(filepath.Join("testdata/apt", tt.dump))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := ParseAptConfig(b)
		if err != nil {
			t.Fatal(err)
		}
		f := &Facts{Manager: "apt", Auto: aptAuto(context.Background(), debianRoot(t, tt.withTool, tt.timers), cfg, nil)}
		r := autoRule(f)
		if r.Status != tt.status || !strings.Contains(r.Reason, tt.reason) {
			t.Errorf("%s: %s %q", tt.name, r.Status, r.Reason)
		}
	}
	// Origins limited to the main archive: updates, but not the security ones.
	b, _ := os.ReadFile("testdata/apt/apt-config-dump-debian12-unattended.txt")
	cfg, _ := ParseAptConfig(b)
	cfg.Lists["Unattended-Upgrade::Origins-Pattern"] = []string{"origin=Debian,codename=${distro_codename},label=Debian"}
	a := aptAuto(context.Background(), debianRoot(t, true, true), cfg, nil)
	if r := autoRule(&Facts{Manager: "apt", Auto: a}); r.Status != checks.Fail || !strings.Contains(r.Reason, "no security origin") {
		t.Errorf("no security origin: %s %q", r.Status, r.Reason)
	}
}

func TestParseAptConfigRejects(t *testing.T) {
	for _, in := range []string{"garbage\n", "APT::Periodic \"1\"\n", "E: Syntax error\n"} {
		if _, err := ParseAptConfig([]byte(in)); err == nil {
			t.Errorf("accepted %q", in)
		}
	}
}

func TestDnfAuto(t *testing.T) {
	root := hosttest.Tree(t, map[string]string{
		"usr/lib/systemd/system/dnf-automatic.timer": "",
		"etc/dnf/automatic.conf":                     "[commands]\nupgrade_type = security\napply_updates = yes\n",
	})
	wants := filepath.Join(root, "etc/systemd/system/timers.target.wants")
	_ = os.MkdirAll(wants, 0o755)
	_ = os.Symlink("/usr/lib/systemd/system/dnf-automatic.timer", filepath.Join(wants, "dnf-automatic.timer"))
	env := &host.Env{Root: root}
	if r := autoRule(&Facts{Manager: "dnf", Auto: dnfAuto(context.Background(), env)}); r.Status != checks.Pass {
		t.Errorf("enabled: %s %q", r.Status, r.Reason)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/dnf/automatic.conf"), []byte("[commands]\nupgrade_type = default\napply_updates = no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := autoRule(&Facts{Manager: "dnf", Auto: dnfAuto(context.Background(), env)}); r.Status != checks.Fail || !strings.Contains(r.Reason, "only downloaded") {
		t.Errorf("download only: %s %q", r.Status, r.Reason)
	}
}
