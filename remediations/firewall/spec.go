// Package firewall fixes the firewall area the way a firewall that owns
// its table must: vigie's table (inet vigie) is deleted and recreated with
// its chains and rules in one netlink transaction, so there is never a
// moment with half a ruleset; no other table is touched; the same ruleset
// is written to a file vigie's own boot unit, vigie-firewall.service,
// loads at boot.
package firewall

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"strings"

	fwcheck "github.com/vigie-agent/vigie/checks/firewall"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TableName is the table vigie owns.
const TableName = "vigie"

// Port is a service the input chain lets in.
type Port struct {
	Proto string // tcp or udp
	Port  int
	Why   string
}

// Spec is vigie's ruleset: input and forward drop by default, with the
// exceptions a host needs to keep working (loopback, replies, ICMP and
// ICMPv6 for neighbour discovery and path MTU, DHCP replies) and the ports
// that must stay open (sshd, the configured ones).
type Spec struct {
	Ports []Port
	// Forward adds a forward chain with policy drop; left out on a host
	// that routes (see routing).
	Forward bool
}

// ParsePort reads "443/tcp", as the firewall section's validation does.
func ParsePort(s, why string) (Port, error) {
	proto, n, err := fwcheck.ParseService(s)
	if err != nil {
		return Port{}, err
	}
	return Port{Proto: proto, Port: n, Why: why}, nil
}

func (s Spec) sortedPorts() []Port {
	seen := map[string]bool{}
	var out []Port
	for _, p := range s.Ports {
		k := p.Proto + strconv.Itoa(p.Port)
		if !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Port != out[j].Port {
			return out[i].Port < out[j].Port
		}
		return out[i].Proto < out[j].Proto
	})
	return out
}

// Text is the ruleset as nft reads it, for the file loaded at boot. It
// uses protocol numbers, not names: a minimal image without /etc/protocols
// fails to parse "meta l4proto ipv6-icmp" and would load nothing.
//
// It loads the same however often and whether the table exists or not:
// `nft -f` runs the file as one transaction, which adds table inet vigie
// (so the delete cannot fail), deletes it with whatever it held, and
// creates it again. No other table is named, and nothing is flushed.
func (s Spec) Text() string {
	var b strings.Builder
	b.WriteString("# Written by vigie fix: vigie's own table, default deny, loaded at boot by\n# vigie-firewall.service. It replaces table inet vigie and touches no other.\n# `vigie undo` reverts it.\n")
	b.WriteString("table inet vigie\ndelete table inet vigie\n")
	b.WriteString("table inet vigie {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n")
	b.WriteString("\t\tiifname \"lo\" accept\n\t\tct state established,related accept\n\t\tct state invalid drop\n")
	b.WriteString("\t\tmeta l4proto 1 accept\n\t\tmeta l4proto 58 accept\n")
	b.WriteString("\t\tudp sport 67 udp dport 68 accept\n\t\tudp sport 547 udp dport 546 accept\n")
	for _, p := range s.sortedPorts() {
		fmt.Fprintf(&b, "\t\t%s dport %d accept comment %q\n", p.Proto, p.Port, p.Why)
	}
	b.WriteString("\t}\n")
	if s.Forward {
		b.WriteString("\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n\t\tct state established,related accept\n\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// Apply replaces vigie's table with the spec in one netlink transaction:
// add (so the delete cannot fail), delete, then the new table, chains and
// rules, flushed as one batch.
func (s Spec) Apply(conn *nftables.Conn) error {
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: TableName}
	conn.AddTable(t)
	conn.DelTable(t)
	conn.AddTable(t)
	drop := nftables.ChainPolicyDrop
	in := conn.AddChain(&nftables.Chain{Name: "input", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &drop})
	add := func(c *nftables.Chain, exprs ...expr.Any) {
		conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: exprs})
	}
	accept := &expr.Verdict{Kind: expr.VerdictAccept}
	add(in, append(ifname("lo"), accept)...)
	add(in, append(ctState(0x02|0x04), accept)...)
	add(in, append(ctState(0x01), &expr.Verdict{Kind: expr.VerdictDrop})...)
	add(in, append(l4proto(unix.IPPROTO_ICMP), accept)...)
	add(in, append(l4proto(unix.IPPROTO_ICMPV6), accept)...)
	add(in, append(append(l4proto(unix.IPPROTO_UDP), ports(67, 68)...), accept)...)
	add(in, append(append(l4proto(unix.IPPROTO_UDP), ports(547, 546)...), accept)...)
	for _, p := range s.sortedPorts() {
		proto := byte(unix.IPPROTO_TCP)
		if p.Proto == "udp" {
			proto = unix.IPPROTO_UDP
		}
		add(in, append(append(l4proto(proto), dport(p.Port)...), accept)...)
	}
	if s.Forward {
		fwd := conn.AddChain(&nftables.Chain{Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop})
		add(fwd, append(ctState(0x02|0x04), accept)...)
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("replace table inet %s: %w", TableName, err)
	}
	return nil
}

// Delete removes vigie's table, if it is there, in one transaction.
func Delete(conn *nftables.Conn) error {
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: TableName}
	conn.AddTable(t)
	conn.DelTable(t)
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("delete table inet %s: %w", TableName, err)
	}
	return nil
}

func ifname(name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b},
	}
}

func ctState(mask uint32) []expr.Any {
	m := make([]byte, 4)
	binary.LittleEndian.PutUint32(m, mask)
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: m, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

func l4proto(p byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

func be16(n int) []byte {
	b := make([]byte, 2)
	binary.BigEndian.PutUint16(b, uint16(n))
	return b
}

func dport(n int) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: be16(n)},
	}
}

func ports(sport, dportN int) []expr.Any {
	return append([]expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: be16(sport)},
	}, dport(dportN)...)
}
