package firewall

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/checks"
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
	tests := []struct {
		name   string
		p      Persistence
		status checks.Status
		reason string
	}{
		{"enabled and deny", Persistence{Units: enabled, File: "/etc/nftables.conf", Loaded: load("inet-drop.nft")}, checks.Pass, "nftables.service is enabled"},
		{"disabled", Persistence{Units: map[string]string{"nftables.service": "disabled"}, File: "/etc/nftables.conf", Loaded: load("inet-drop.nft")}, checks.Fail, "nftables.service is disabled"},
		{"ipv4 only", Persistence{Units: enabled, File: "/etc/nftables.conf", Loaded: load("ip-only.nft")}, checks.Fail, "no default-deny input chain for ipv6"},
		{"does not parse", Persistence{Units: enabled, File: "/etc/nftables.conf", LoadErr: "Error: syntax error"}, checks.Fail, "does not load"},
		{"no file", Persistence{Units: enabled, FileErr: "none of /etc/nftables.conf exists"}, checks.Fail, "none of"},
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
