package firewall

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/internal/testenv"
)

func TestReadListenersFixture(t *testing.T) {
	ls, err := ReadListeners("testdata/proc-debian12", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range ls {
		got = append(got, l.String())
	}
	want := "tcp 0.0.0.0:22,tcp [::]:22,udp 0.0.0.0:68,tcp 0.0.0.0:2024,udp [::]:5353,tcp 0.0.0.0:8080,tcp 127.0.0.1:8081"
	if strings.Join(got, ",") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, ","), want)
	}
	for _, l := range ls {
		if l.Port == 8081 && !l.Loopback() {
			t.Error("127.0.0.1:8081 not loopback")
		}
		if l.Port == 5353 && strings.Join(l.Families(false), ",") != "ipv4,ipv6" {
			t.Errorf(":: families %v", l.Families(false))
		}
	}
}

// TestExposureFixture judges the captured sockets against rulesets built
// in memory, one per situation.
func TestExposureFixture(t *testing.T) {
	ls, err := ReadListeners("testdata/proc-debian12", "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range ls {
		if ls[i].Port == 22 {
			ls[i].Process = "sshd"
		}
	}
	open := &Ruleset{}
	deny := denyRuleset(
		&Rule{Conds: []Cond{{Field: "ct state", Op: "in", Value: "{established,related}"}}, Verdict: VAccept},
		&Rule{Conds: []Cond{{Field: "meta l4proto", Op: "==", Value: "tcp"}, {Field: "th dport", Op: "==", Value: "22"}}, Verdict: VAccept},
		&Rule{Conds: []Cond{{Field: "meta l4proto", Op: "==", Value: "udp"}, {Field: "th dport", Op: "==", Value: "68"}}, Verdict: VAccept},
	)
	tests := []struct {
		name    string
		rs      *Ruleset
		allowed []string
		status  checks.Status
		bad     string
	}{
		{"no firewall", open, nil, checks.Fail, "udp 0.0.0.0:68, tcp 0.0.0.0:2024, udp [::]:5353, tcp 0.0.0.0:8080"},
		{"default deny", deny, nil, checks.Fail, "udp 0.0.0.0:68"},
		{"default deny, dhcp client allowed", deny, []string{"68/udp"}, checks.Pass, ""},
		{"no firewall, all allowed", open, []string{"2024/tcp", "5353/udp", "8080/tcp", "68/udp"}, checks.Pass, ""},
	}
	for _, tt := range tests {
		f := &Facts{Ruleset: tt.rs, Listeners: ls, Allowed: map[string]bool{}, Forwarding: map[string]bool{}}
		for _, a := range tt.allowed {
			f.Allowed[a] = true
		}
		r := exposedRule(f)
		if r.Status != tt.status || !strings.Contains(r.Reason, tt.bad) {
			t.Errorf("%s: %s %q, want %s with %q", tt.name, r.Status, r.Reason, tt.status, tt.bad)
		}
	}
}

func denyRuleset(rules ...*Rule) *Ruleset {
	t := &Table{Name: "filter", Family: "inet"}
	t.Chains = []*Chain{{Table: t, Name: "input", Hook: "input", Type: "filter", Policy: VDrop, Rules: rules}}
	return &Ruleset{Tables: []*Table{t}}
}

// TestExposureLive: a real listener in a namespace, judged against the
// real ruleset of that namespace.
func TestExposureLive(t *testing.T) {
	n := newNetns(t)
	n.Listen(t, "0.0.0.0:8080")
	pid := n.Member(t)
	opt := DefaultOptions()
	opt.NetNS = n.Path
	opt.NetDir = "/proc/" + strconv.Itoa(pid)
	opt.CmdPrefix = n.Prefix()
	env := host.DefaultEnv()
	find := func(fs []checks.Finding, id string) checks.Finding {
		for _, f := range fs {
			if f.ID == id {
				return f
			}
		}
		t.Fatalf("no %s", id)
		return checks.Finding{}
	}

	got := find(New(opt).Run(context.Background(), env), IDExposed)
	if got.Status != checks.Fail || !strings.Contains(got.Reason, "tcp [::]:8080 (firewall.test, pid "+strconv.Itoa(os.Getpid())+")") {
		t.Errorf("open namespace: %s %q", got.Status, got.Reason)
	}
	loadFile(t, n, "inet-drop.nft")
	fs := New(opt).Run(context.Background(), env)
	if got := find(fs, IDExposed); got.Status != checks.Pass {
		t.Errorf("8080 dropped by inet-drop.nft: %s %q", got.Status, got.Reason)
	}
	if got := find(fs, IDInputDeny); got.Status != checks.Pass {
		t.Errorf("input deny: %s %q", got.Status, got.Reason)
	}
	n.load(t, "add rule inet filter input tcp dport 8080 accept\n")
	opt.AllowedPorts = []string{"8080/tcp"}
	if got := find(New(opt).Run(context.Background(), env), IDExposed); got.Status != checks.Pass || !strings.Contains(evidenceText(got), "open on purpose") {
		t.Errorf("8080 opened and allowed: %s %q %s", got.Status, got.Reason, evidenceText(got))
	}
}

func evidenceText(f checks.Finding) string {
	var b strings.Builder
	for _, e := range f.Evidence {
		b.WriteString(e.Subject + " " + e.Key + " " + e.Want + "\n")
	}
	return b.String()
}

// TestLegacyRules: a rule loaded through iptables-legacy is enforced but
// invisible to nft; the check must find it.
func TestLegacyRules(t *testing.T) {
	n := newNetns(t)
	if out, err := n.exec("iptables-legacy", "-A", "INPUT", "-s", "203.0.113.0/24", "-j", "DROP"); err != nil {
		testenv.Missing(t, "iptables-legacy: %v: %s (apt-get install iptables)", err, out)
	}
	pid := n.Member(t)
	opt := DefaultOptions()
	opt.CmdPrefix = n.Prefix()
	l := readLegacy(context.Background(), host.DefaultEnv(), "/proc/"+strconv.Itoa(pid), opt)
	r := legacyRule(&Facts{Legacy: l})
	if r.Status != checks.Fail || !strings.Contains(r.Reason, "filter -A INPUT -s 203.0.113.0/24 -j DROP") {
		t.Errorf("%s %q (%+v)", r.Status, r.Reason, l)
	}
	if rs := n.ruleset(t); len(rs.Tables) != 0 {
		t.Errorf("legacy rule visible through nftables:\n%s", rs)
	}
}

func TestLegacyRulesParse(t *testing.T) {
	out := []byte(`# Generated by iptables-save v1.8.9 (legacy) on Mon Nov 23 15:00:00 2026
*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i lo -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
COMMIT
`)
	got := legacyRules(out)
	if strings.Join(got, "|") != "filter policy INPUT DROP|filter -A INPUT -i lo -j ACCEPT" {
		t.Errorf("got %q", got)
	}
	if len(legacyRules([]byte("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"))) != 0 {
		t.Error("empty legacy table reported")
	}
}
