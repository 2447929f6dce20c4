// Package firewall checks that the guest filters inbound traffic by default:
// "tout refuser par défaut, autoriser par exception". It reads the nftables
// ruleset over netlink, evaluates it with nftables' own semantics, and
// compares it with the sockets that listen on the host.
package firewall

import (
	"fmt"
	"sort"
	"strings"
)

// Ruleset is the nftables configuration of one network namespace, reduced
// to what filtering decisions depend on.
type Ruleset struct {
	Tables []*Table
}

// Table is an nftables table.
type Table struct {
	Name    string
	Family  string // ip, ip6, inet, arp, bridge, netdev
	Dormant bool   // a dormant table's chains see no packet
	Owner   string // firewalld, ufw, iptables-nft, vigie... when recognised
	Chains  []*Chain
	Sets    map[string]*Set
}

// Set is a named or anonymous set or map of a table. Only port sets are
// decoded: they decide which services a rule such as
// "tcp dport { 22, 443 } accept" opens.
type Set struct {
	Name     string
	KeyType  string
	Elements int
	Ports    []PortRange // for inet_service keys; for a verdict map, the ports mapped to accept
	Values   []string    // other key types, formatted as nft prints them; for a map, the keys mapped to accept
}

// PortRange is an inclusive range of ports.
type PortRange struct{ From, To int }

// Contains reports whether port is in one of the ranges.
func containsPort(rs []PortRange, port int) bool {
	for _, r := range rs {
		if port >= r.From && port <= r.To {
			return true
		}
	}
	return false
}

// Chain is a base chain (attached to a hook) or a regular chain reached by
// jump and goto.
type Chain struct {
	Table    *Table `json:"-"`
	Name     string
	Hook     string // input, forward, output, prerouting, postrouting, ingress; "" for a regular chain
	Priority int32
	Type     string // filter, nat, route
	Policy   string // accept or drop, base chains only
	Rules    []*Rule
}

// Base reports whether the chain is attached to a hook.
func (c *Chain) Base() bool { return c.Hook != "" }

// ID names the chain the way nft prints it: "inet filter input".
func (c *Chain) ID() string { return c.Table.Family + " " + c.Table.Name + " " + c.Name }

// Verdict kinds.
const (
	VNone     = ""
	VAccept   = "accept"
	VDrop     = "drop"
	VReject   = "reject"
	VJump     = "jump"
	VGoto     = "goto"
	VReturn   = "return"
	VContinue = "continue"
	VQueue    = "queue"
	VMap      = "vmap" // verdict taken from a map keyed on packet fields
)

// Rule is one rule: the conditions a packet must meet and what happens then.
type Rule struct {
	Handle  uint64
	Conds   []Cond
	Verdict string
	Target  string   // chain of jump/goto, set of vmap
	Unknown []string // expressions that could not be decoded: the rule's meaning is not known
}

// Cond is one condition of a rule, e.g. {Field: "th dport", Op: "==", Value: "22"}.
type Cond struct {
	Field string
	Op    string
	Value string
}

// Conditional reports whether some packets escape the rule.
func (r *Rule) Conditional() bool { return len(r.Conds) > 0 }

func (r *Rule) String() string {
	var parts []string
	for _, c := range r.Conds {
		parts = append(parts, c.String())
	}
	v := r.Verdict
	switch r.Verdict {
	case VJump, VGoto:
		v += " " + r.Target
	case VMap:
		v = "vmap @" + r.Target
	case VNone:
		v = ""
	}
	if v != "" {
		parts = append(parts, v)
	}
	if len(r.Unknown) > 0 {
		parts = append(parts, "[undecoded: "+strings.Join(r.Unknown, ",")+"]")
	}
	if len(parts) == 0 {
		return "(empty rule)"
	}
	return strings.Join(parts, " ")
}

func (c Cond) String() string {
	switch {
	case c.Op == "":
		return c.Field
	case c.Op == "==":
		return c.Field + " " + c.Value
	default:
		return c.Field + " " + c.Op + " " + c.Value
	}
}

// Chain returns the chain of a table by name.
func (t *Table) Chain(name string) *Chain {
	for _, c := range t.Chains {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// BaseChains returns the active filter base chains on a hook that see
// packets of an IP family ("ipv4" or "ipv6"), in the order the kernel runs
// them: by priority.
func (rs *Ruleset) BaseChains(hook, family string) []*Chain {
	var out []*Chain
	for _, t := range rs.Tables {
		if t.Dormant || !familySees(t.Family, family) {
			continue
		}
		for _, c := range t.Chains {
			if c.Hook == hook && c.Type == "filter" {
				out = append(out, c)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Priority < out[j].Priority })
	return out
}

// familySees reports whether a table of family tf sees IP family fam.
func familySees(tf, fam string) bool {
	switch tf {
	case "inet":
		return true
	case "ip":
		return fam == "ipv4"
	case "ip6":
		return fam == "ipv6"
	}
	return false
}

func (rs *Ruleset) String() string {
	var b strings.Builder
	for _, t := range rs.Tables {
		fmt.Fprintf(&b, "table %s %s", t.Family, t.Name)
		if t.Dormant {
			b.WriteString(" (dormant)")
		}
		b.WriteString("\n")
		for _, c := range t.Chains {
			fmt.Fprintf(&b, "  chain %s", c.Name)
			if c.Base() {
				fmt.Fprintf(&b, " [%s hook %s priority %d policy %s]", c.Type, c.Hook, c.Priority, c.Policy)
			}
			b.WriteString("\n")
			for _, r := range c.Rules {
				fmt.Fprintf(&b, "    %s\n", r)
			}
		}
	}
	return b.String()
}
