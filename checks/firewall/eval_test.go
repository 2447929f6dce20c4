package firewall

import (
	"strings"
	"testing"

	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"
)

// The expression lists below are what nft 1.0.6 generates for each rule
// (as shown by `nft --debug=netlink`).
func TestDecodeRule(t *testing.T) {
	tests := []struct {
		name   string
		family string
		exprs  []expr.Any
		want   string
	}{
		{"tcp dport 22 accept", "inet", []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 22}},
			&expr.Verdict{Kind: expr.VerdictAccept},
		}, "meta l4proto tcp th dport 22 accept"},
		{"ct state established,related accept", "inet", []expr.Any{
			&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{6, 0, 0, 0}, Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
			&expr.Counter{},
			&expr.Verdict{Kind: expr.VerdictAccept},
		}, "ct state in {established,related} accept"},
		{"ip saddr 10.0.0.0/8 drop", "inet", []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{255, 0, 0, 0}, Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{10, 0, 0, 0}},
			&expr.Verdict{Kind: expr.VerdictDrop},
		}, "meta nfproto ipv4 ip saddr 10.0.0.0/8 drop"},
		{"iifname lo accept", "inet", []expr.Any{
			&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte("lo\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")},
			&expr.Verdict{Kind: expr.VerdictAccept},
		}, "iifname lo accept"},
		{"tcp dport vmap", "inet", []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: "__map0"},
		}, "meta l4proto tcp th dport in @__map0 vmap @__map0"},
		{"iptables-nft conntrack", "ip", []expr.Any{
			&expr.Match{Name: "conntrack", Rev: 3, Info: &xt.ConntrackMtinfo3{ConntrackMtinfo2: xt.ConntrackMtinfo2{StateMask: 6}}},
			&expr.Counter{},
			&expr.Verdict{Kind: expr.VerdictAccept},
		}, "ct state in {established,related} accept"},
		{"reject", "inet", []expr.Any{&expr.Reject{}}, "reject"},
		{"jump", "ip", []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: "ufw-before-input"}}, "jump ufw-before-input"},
		{"unknown expression type", "inet", []expr.Any{&expr.Socket{}, &expr.Verdict{Kind: expr.VerdictAccept}}, "accept [undecoded: *expr.Socket]"},
	}
	for _, tt := range tests {
		if got := decodeRule(tt.exprs, tt.family).String(); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func chainOf(t *Table, name, hook string, prio int32, policy string, rules ...*Rule) *Chain {
	c := &Chain{Table: t, Name: name, Hook: hook, Priority: prio, Type: "filter", Policy: policy, Rules: rules}
	t.Chains = append(t.Chains, c)
	return c
}

func rule(verdict, target string, conds ...Cond) *Rule {
	return &Rule{Verdict: verdict, Target: target, Conds: conds}
}

// TestEvaluateSemantics covers the jump, goto and return rules of nftables
// without a kernel.
func TestEvaluateSemantics(t *testing.T) {
	tcp22 := []Cond{{Field: "meta l4proto", Op: "==", Value: "tcp"}, {Field: "th dport", Op: "==", Value: "22"}}
	tests := []struct {
		name  string
		build func(*Table)
		deny  map[string]bool
	}{
		{"return from a jump falls back to the policy", func(tb *Table) {
			chainOf(tb, "sub", "", 0, "", rule(VReturn, ""))
			chainOf(tb, "input", "input", 0, VDrop, rule(VJump, "sub"))
		}, map[string]bool{"ipv4": true, "ipv6": true}},
		{"goto a chain that ends: the base chain's policy", func(tb *Table) {
			chainOf(tb, "sub", "", 0, "")
			chainOf(tb, "input", "input", 0, VDrop, rule(VGoto, "sub"), rule(VAccept, ""))
		}, map[string]bool{"ipv4": true, "ipv6": true}},
		{"jump to a chain that ends: the next rule", func(tb *Table) {
			chainOf(tb, "sub", "", 0, "")
			chainOf(tb, "input", "input", 0, VDrop, rule(VJump, "sub"), rule(VAccept, ""))
		}, map[string]bool{"ipv4": false, "ipv6": false}},
		{"conditional accepts do not open the default", func(tb *Table) {
			chainOf(tb, "input", "input", 0, VAccept, rule(VAccept, "", tcp22...), rule(VDrop, ""))
		}, map[string]bool{"ipv4": true, "ipv6": true}},
		{"nfproto-specific final drop", func(tb *Table) {
			chainOf(tb, "input", "input", 0, VAccept, rule(VDrop, "", Cond{Field: "meta nfproto", Op: "==", Value: "ipv6"}))
		}, map[string]bool{"ipv4": false, "ipv6": true}},
		{"a jump loop is not followed forever", func(tb *Table) {
			chainOf(tb, "a", "", 0, "", rule(VJump, "a"))
			chainOf(tb, "input", "input", 0, VDrop, rule(VJump, "a"))
		}, map[string]bool{"ipv4": false, "ipv6": false}},
	}
	for _, tt := range tests {
		tb := &Table{Name: "filter", Family: "inet"}
		tt.build(tb)
		rs := &Ruleset{Tables: []*Table{tb}}
		for fam, want := range tt.deny {
			if got := rs.Evaluate("input", fam).Deny(); got != want {
				t.Errorf("%s: %s deny = %v, want %v\n%s", tt.name, fam, got, want, rs)
			}
		}
	}
}

func TestNarrows(t *testing.T) {
	tests := []struct {
		conds []Cond
		want  bool
	}{
		{[]Cond{{Field: "meta l4proto", Op: "==", Value: "tcp"}}, false},
		{[]Cond{{Field: "meta l4proto", Op: "in", Value: "{icmp,ipv6-icmp}"}}, true},
		{[]Cond{{Field: "ct state", Op: "in", Value: "{new}"}}, false},
		{[]Cond{{Field: "ct state", Op: "in", Value: "{established,related}"}}, true},
		{[]Cond{{Field: "ip saddr", Op: "==", Value: "0.0.0.0/0"}}, false},
		{[]Cond{{Field: "ip saddr", Op: "==", Value: "192.0.2.0/24"}}, true},
		{[]Cond{{Field: "limit", Op: "rate", Value: "10/second"}}, false},
		{[]Cond{{Field: "th dport", Op: "==", Value: "443"}}, true},
	}
	for _, tt := range tests {
		if got := narrows(tt.conds); got != tt.want {
			t.Errorf("%v: %v, want %v", tt.conds, got, tt.want)
		}
	}
}

func TestAdmits(t *testing.T) {
	tb := &Table{Name: "filter", Family: "inet", Sets: map[string]*Set{"web": {Name: "web", Ports: []PortRange{{80, 80}, {8000, 8080}}}}}
	chainOf(tb, "input", "input", 0, VDrop,
		rule(VAccept, "", Cond{Field: "ct state", Op: "in", Value: "{established,related}"}),
		rule(VAccept, "", Cond{Field: "iifname", Op: "==", Value: "lo"}),
		rule(VAccept, "", Cond{Field: "meta l4proto", Op: "==", Value: "tcp"}, Cond{Field: "th dport", Op: "in", Value: "@web"}),
		rule(VAccept, "", Cond{Field: "meta l4proto", Op: "in", Value: "{tcp,udp}"}, Cond{Field: "th dport", Op: "==", Value: "53"}),
		rule(VAccept, "", Cond{Field: "ip saddr", Op: "==", Value: "192.0.2.0/24"}, Cond{Field: "th dport", Op: "==", Value: "5432"}),
	)
	hv := (&Ruleset{Tables: []*Table{tb}}).Evaluate("input", "ipv4")
	for _, tt := range []struct {
		proto string
		port  int
		want  bool
	}{{"tcp", 80, true}, {"tcp", 8042, true}, {"tcp", 8081, false}, {"udp", 80, false}, {"udp", 53, true}, {"tcp", 5432, false}, {"tcp", 22, false}} {
		if got, why := hv.Admits(tt.proto, tt.port); got != tt.want {
			t.Errorf("%s/%d: %v (%s), want %v", tt.proto, tt.port, got, why, tt.want)
		}
	}
	if ok, why := (&Ruleset{}).Evaluate("input", "ipv4").Admits("tcp", 1); !ok || !strings.Contains(why, "no ipv4 input filter chain") {
		t.Errorf("empty ruleset: %v %s", ok, why)
	}
}
