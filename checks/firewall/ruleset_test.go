package firewall

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/internal/testenv"
)

func loadFile(t *testing.T, n *testNetns, name string) *Ruleset {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "rulesets", name))
	if err != nil {
		t.Fatal(err)
	}
	n.load(t, string(b))
	return n.ruleset(t)
}

// TestDefaultDenyScenarios loads each ruleset with the real nft into a
// fresh network namespace, reads it back over netlink and checks the
// verdict for each family.
func TestDefaultDenyScenarios(t *testing.T) {
	tests := []struct {
		file       string
		ipv4, ipv6 bool          // input drops by default
		status     checks.Status // of firewall.input-default-deny
		reason     string
	}{
		{"empty.nft", false, false, checks.Fail, "no input filter chain"},
		{"inet-drop.nft", true, true, checks.Pass, "default-deny by inet filter input (policy drop)"},
		{"ip-only.nft", true, false, checks.Fail, "IPv6: not default-deny"},
		{"accept-then-drop.nft", true, true, checks.Pass, "inet late input"},
		{"firewalld.nft", true, true, checks.Pass, "inet firewalld filter_INPUT (rule: reject)"},
		{"dormant.nft", false, false, checks.Fail, "no input filter chain"},
		{"broad-accept.nft", true, true, checks.Fail, "accepts any new connection with: inet filter input: meta l4proto tcp accept"},
		{"jump-accept-all.nft", false, false, checks.Fail, "lets unmatched packets through"},
		{"final-drop-ipv4-only.nft", true, false, checks.Fail, "IPv6: not default-deny"},
		{"undecodable.nft", true, true, checks.Error, "cannot decode"},
		{"vmap.nft", true, true, checks.Pass, "IPv4: default-deny"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			n := newNetns(t)
			rs := loadFile(t, n, tt.file)
			for fam, want := range map[string]bool{"ipv4": tt.ipv4, "ipv6": tt.ipv6} {
				if got := rs.Evaluate("input", fam).Deny(); got != want {
					t.Errorf("%s deny = %v, want %v\n%s", fam, got, want, rs)
				}
			}
			r := hookRule("input")(&Facts{Ruleset: rs})
			if r.Status != tt.status || !strings.Contains(r.Reason, tt.reason) {
				t.Errorf("status %s %q, want %s containing %q\n%s", r.Status, r.Reason, tt.status, tt.reason, rs)
			}
		})
	}
}

func TestForwardDenyAndSeverity(t *testing.T) {
	n := newNetns(t)
	rs := loadFile(t, n, "firewalld.nft")
	f := &Facts{Ruleset: rs, Forwarding: map[string]bool{}}
	r := forwardRule(f)
	if r.Status != checks.Pass {
		t.Errorf("firewalld forward: %s %s", r.Status, r.Reason)
	}
	rs = loadFile(t, n, "ip-only.nft")
	f = &Facts{Ruleset: rs, Forwarding: map[string]bool{}}
	r = forwardRule(f)
	if r.Status != checks.Fail || r.Severity == nil || *r.Severity != checks.Low {
		t.Errorf("no forward chain, forwarding off: %s severity %v", r.Status, r.Severity)
	}
	f.Forwarding["ipv4"] = true
	if r = forwardRule(f); r.Severity != nil {
		t.Errorf("forwarding on: severity lowered to %v", *r.Severity)
	}
}

// TestIptablesNft: a ruleset written by iptables-nft (the iptables of
// Debian 12 and RHEL 9) is read like any other and recognised.
func TestIptablesNft(t *testing.T) {
	n := newNetns(t)
	for _, args := range [][]string{
		{"iptables-nft", "-P", "INPUT", "DROP"},
		{"iptables-nft", "-A", "INPUT", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"},
		{"iptables-nft", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT"},
		{"iptables-nft", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"},
	} {
		if out, err := n.exec(args...); err != nil {
			testenv.Missing(t, "%v: %v: %s (apt-get install iptables)", args, err, out)
		}
	}
	rs := n.ruleset(t)
	if !rs.Evaluate("input", "ipv4").Deny() {
		t.Errorf("iptables-nft INPUT policy DROP not seen as deny:\n%s", rs)
	}
	if rs.Evaluate("input", "ipv6").Deny() {
		t.Errorf("IPv6 has no rules but reads as deny:\n%s", rs)
	}
	var owner string
	for _, tb := range rs.Tables {
		if tb.Name == "filter" {
			owner = tb.Owner
		}
	}
	if owner != "iptables-nft" {
		t.Errorf("owner %q, want iptables-nft\n%s", owner, rs)
	}
	hv := rs.Evaluate("input", "ipv4")
	if ok, why := hv.Admits("tcp", 22); !ok {
		t.Errorf("22/tcp not admitted: %s\n%s", why, rs)
	}
	if ok, why := hv.Admits("tcp", 80); ok {
		t.Errorf("80/tcp admitted: %s\n%s", why, rs)
	}
}
