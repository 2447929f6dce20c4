package firewall

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
)

// TestLoadScratch loads persisted files into a scratch namespace; the host's
// own ruleset (that of the test process) must stay untouched.
func TestLoadScratch(t *testing.T) {
	requireRoot(t)
	before := hostRuleset(t)
	rs, err := loadScratch(context.Background(), "/usr/sbin/nft", "testdata/rulesets/inet-drop.nft")
	if err != "" {
		t.Fatal(err)
	}
	if !rs.Evaluate("input", "ipv4").Deny() || !rs.Evaluate("input", "ipv6").Deny() {
		t.Errorf("inet-drop.nft not default-deny once loaded:\n%s", rs)
	}
	if after := hostRuleset(t); after != before {
		t.Errorf("host ruleset changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// Files load one after the other, as the units do at boot: a flush
	// first, then vigie's table.
	own := filepath.Join(t.TempDir(), "vigie.nft")
	if err := os.WriteFile(own, []byte("table inet vigie\ndelete table inet vigie\ntable inet vigie {\n chain input { type filter hook input priority 0; policy drop; }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	two, err := loadScratch(context.Background(), "/usr/sbin/nft", "testdata/rulesets/ip-only.nft", own)
	if err != "" || len(two.Tables) != 2 || !two.Evaluate("input", "ipv6").Deny() {
		t.Errorf("two files: %s\n%v", err, two)
	}
	bad := filepath.Join(t.TempDir(), "broken.nft")
	if err := os.WriteFile(bad, []byte("table inet filter {\n chain input { type filter hook input priority 0; policy drop;\n  tcp dport ssh accep\n }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadScratch(context.Background(), "/usr/sbin/nft", bad); !strings.Contains(err, "broken.nft") {
		t.Errorf("broken file: %q", err)
	}
}

func hostRuleset(t *testing.T) string {
	t.Helper()
	rs, err := readLive("")
	if err != nil {
		t.Fatal(err)
	}
	return rs.String()
}

func TestPersistentRule(t *testing.T) {
	requireRoot(t)
	load := func(name string) *Ruleset {
		rs, err := loadScratch(context.Background(), "/usr/sbin/nft", "testdata/rulesets/"+name)
		if err != "" {
			t.Fatal(err)
		}
		return rs
	}
	enabled := map[string]string{"nftables.service": "enabled"}
	conf := []BootLoad{{"nftables.service", "/etc/nftables.conf"}}
	vigie := []BootLoad{{BootUnit, BootFile}}
	tests := []struct {
		name   string
		p      Persistence
		status checks.Status
		reason string
	}{
		{"nftables.service and deny", Persistence{Units: enabled, Boot: conf, Loaded: load("inet-drop.nft")}, checks.Pass,
			"nftables.service is enabled and /etc/nftables.conf loads a default-deny input ruleset for ipv4 and ipv6"},
		{"vigie's unit and deny", Persistence{Units: map[string]string{BootUnit: "enabled", "nftables.service": "disabled"}, Boot: vigie, Loaded: load("inet-drop.nft")}, checks.Pass,
			"vigie-firewall.service is enabled and /etc/vigie/vigie.nft loads a default-deny input ruleset"},
		{"both, as an older vigie left it", Persistence{Units: map[string]string{BootUnit: "enabled", "nftables.service": "enabled"}, Boot: append(conf, vigie...), Loaded: load("inet-drop.nft")}, checks.Pass,
			"vigie-firewall.service are enabled and /etc/nftables.conf then /etc/vigie/vigie.nft load a default-deny"},
		{"nothing enabled", Persistence{Units: map[string]string{"nftables.service": "disabled"}}, checks.Fail,
			"vigie-firewall.service is not installed and nftables.service is disabled, so nothing loads a ruleset at boot"},
		{"vigie's unit disabled", Persistence{Units: map[string]string{BootUnit: "disabled"}}, checks.Fail, "vigie-firewall.service is disabled and nftables.service is not installed"},
		{"ipv4 only", Persistence{Units: enabled, Boot: conf, Loaded: load("ip-only.nft")}, checks.Fail, "no default-deny input chain for ipv6"},
		{"does not parse", Persistence{Units: enabled, Boot: conf, LoadErr: "Error: syntax error"}, checks.Fail, "/etc/nftables.conf does not load"},
		{"no file", Persistence{Units: enabled, Missing: []string{"nftables.service is enabled, but none of /etc/nftables.conf exists"}}, checks.Fail, "none of"},
	}
	for _, tt := range tests {
		r := persistentRule(&Facts{Persist: tt.p})
		if r.Status != tt.status || !strings.Contains(r.Reason, tt.reason) {
			t.Errorf("%s: %s %q", tt.name, r.Status, r.Reason)
		}
	}
	f := &Facts{Persist: Persistence{Units: map[string]string{"firewalld.service": "enabled"}}, Ruleset: load("firewalld.nft")}
	if r := persistentRule(f); r.Status != checks.Pass || !strings.Contains(r.Reason, "firewalld") {
		t.Errorf("firewalld: %s %q", r.Status, r.Reason)
	}
}

func TestUFWEnabled(t *testing.T) {
	if !ufwEnabled([]byte("# comment\nENABLED=yes\nLOGLEVEL=low\n")) || ufwEnabled([]byte("ENABLED=no\n")) {
		t.Error("ufw.conf ENABLED")
	}
}

// TestReadPersistence reads which units load which file at boot from a
// tree: vigie's unit enabled, nftables.service installed but disabled (its
// file is then not what boot loads), and an enabled unit without its file.
func TestReadPersistence(t *testing.T) {
	tests := []struct {
		name        string
		enabled     []string
		files       []string
		wantBoot    []BootLoad
		wantMissing string
	}{
		{"vigie's unit only", []string{BootUnit}, []string{"etc/nftables.conf", "etc/vigie/vigie.nft"}, []BootLoad{{BootUnit, BootFile}}, ""},
		{"both, nftables.service first", []string{BootUnit, "nftables.service"}, []string{"etc/nftables.conf", "etc/vigie/vigie.nft"},
			[]BootLoad{{"nftables.service", "/etc/nftables.conf"}, {BootUnit, BootFile}}, ""},
		{"vigie's file gone", []string{BootUnit}, []string{"etc/nftables.conf"}, nil, "vigie-firewall.service is enabled, but none of /etc/vigie/vigie.nft exists"},
		{"nothing enabled", nil, []string{"etc/nftables.conf", "etc/vigie/vigie.nft"}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			wants := filepath.Join(root, "etc/systemd/system/sysinit.target.wants")
			for _, f := range append([]string{"lib/systemd/system/nftables.service", "etc/systemd/system/" + BootUnit}, tt.files...) {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, f), []byte("# file\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.MkdirAll(wants, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, u := range tt.enabled {
				if err := os.Symlink("/etc/systemd/system/"+u, filepath.Join(wants, u)); err != nil {
					t.Fatal(err)
				}
			}
			p := readPersistence(context.Background(), &host.Env{Root: root}, DefaultOptions())
			if !slices.Equal(p.Boot, tt.wantBoot) || strings.Join(p.Missing, "; ") != tt.wantMissing {
				t.Errorf("boot %v, missing %q", p.Boot, p.Missing)
			}
			if len(tt.wantBoot) > 0 && !strings.Contains(p.LoadErr, "not the running system") {
				t.Errorf("load on a tree: %q", p.LoadErr)
			}
			if got := p.Units[BootUnit]; (got == "enabled") != slices.Contains(tt.enabled, BootUnit) {
				t.Errorf("%s: %q", BootUnit, got)
			}
		})
	}
}
