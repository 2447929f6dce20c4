package firewall

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"
)

// NFT_TABLE_F_DORMANT (linux/netfilter/nf_tables.h).
const tableFlagDormant = 0x1

// dormant reads NFTA_TABLE_FLAGS. The netlink attribute is big-endian, and
// github.com/google/nftables v0.3.0 decodes it in host order: accept either
// reading, so the check stays right once the library is fixed.
func dormant(flags uint32) bool {
	return flags&tableFlagDormant != 0 || bits.ReverseBytes32(flags)&tableFlagDormant != 0
}

// ReadRuleset reads every table, chain and rule through conn. exprNames,
// when not nil, gives per rule handle the names of the expressions the
// kernel holds, so a rule holding an expression the library cannot decode
// is marked unknown instead of being read as unconditional.
func ReadRuleset(conn *nftables.Conn, exprNames map[ruleKey][]string) (*Ruleset, error) {
	tables, err := conn.ListTables()
	if err != nil {
		return nil, fmt.Errorf("list nftables tables: %w", err)
	}
	chains, err := conn.ListChains()
	if err != nil {
		return nil, fmt.Errorf("list nftables chains: %w", err)
	}
	rs := &Ruleset{}
	byKey := map[string]*Table{}
	for _, t := range tables {
		mt := &Table{Name: t.Name, Family: familyName(t.Family), Dormant: dormant(t.Flags)}
		if mt.Sets, err = readSets(conn, t); err != nil {
			return nil, err
		}
		rs.Tables = append(rs.Tables, mt)
		byKey[mt.Family+" "+mt.Name] = mt
	}
	for _, c := range chains {
		t := byKey[familyName(c.Table.Family)+" "+c.Table.Name]
		if t == nil {
			continue // table created between the two dumps
		}
		mc := &Chain{Table: t, Name: c.Name, Type: string(c.Type)}
		if c.Hooknum != nil {
			mc.Hook = hookName(t.Family, uint32(*c.Hooknum))
			if c.Priority != nil {
				mc.Priority = int32(*c.Priority)
			}
			mc.Policy = VAccept
			if c.Policy != nil && *c.Policy == nftables.ChainPolicyDrop {
				mc.Policy = VDrop
			}
		}
		rules, err := conn.GetRules(c.Table, c)
		if err != nil {
			return nil, fmt.Errorf("list rules of %s: %w", mc.ID(), err)
		}
		for _, r := range rules {
			mr := decodeRule(r.Exprs, t.Family)
			mr.Handle = r.Handle
			if exprNames != nil {
				mr.Unknown = append(mr.Unknown, undecoded(exprNames[ruleKey{t.Family, t.Name, c.Name, r.Handle}], r.Exprs)...)
			}
			mc.Rules = append(mc.Rules, mr)
		}
		t.Chains = append(t.Chains, mc)
	}
	for _, t := range rs.Tables {
		t.Owner = owner(t)
		inlineAnonymousSets(t)
	}
	return rs, nil
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyBridge:
		return "bridge"
	case nftables.TableFamilyNetdev:
		return "netdev"
	}
	return fmt.Sprintf("family%d", f)
}

func hookName(family string, h uint32) string {
	if family == "netdev" {
		switch h {
		case 0:
			return "ingress"
		case 1:
			return "egress"
		}
	}
	switch h {
	case unix.NF_INET_PRE_ROUTING:
		return "prerouting"
	case unix.NF_INET_LOCAL_IN:
		return "input"
	case unix.NF_INET_FORWARD:
		return "forward"
	case unix.NF_INET_LOCAL_OUT:
		return "output"
	case unix.NF_INET_POST_ROUTING:
		return "postrouting"
	case 5: // NF_INET_INGRESS
		return "ingress"
	}
	return "hook" + strconv.Itoa(int(h))
}

// field is what a register holds: a packet field loaded by an expression.
type field struct {
	name string
	mask []byte // set by a bitwise AND on the register
}

// decodeRule turns expressions into conditions and a verdict. Loads
// (meta, payload, ct...) fill registers; comparisons (cmp, range, lookup)
// on a register become conditions on the field it holds.
func decodeRule(exprs []expr.Any, tableFamily string) *Rule {
	r := &Rule{}
	regs := map[uint32]field{}
	l3 := ""
	switch tableFamily {
	case "ip":
		l3 = "ipv4"
	case "ip6":
		l3 = "ipv6"
	}
	l4 := ""
	for _, e := range exprs {
		switch e := e.(type) {
		case *expr.Meta:
			if !e.SourceRegister {
				regs[e.Register] = field{name: metaName(e.Key)}
			}
		case *expr.Payload:
			if e.OperationType == expr.PayloadLoad {
				regs[e.DestRegister] = field{name: payloadName(e, l3, l4)}
			}
		case *expr.Ct:
			if !e.SourceRegister {
				regs[e.Register] = field{name: ctName(e.Key)}
			}
		case *expr.Fib:
			regs[e.Register] = field{name: "fib"}
		case *expr.Exthdr:
			regs[e.DestRegister] = field{name: "exthdr"}
		case *expr.Numgen:
			regs[e.Register] = field{name: "numgen"}
		case *expr.Hash:
			regs[e.DestRegister] = field{name: "hash"}
		case *expr.Bitwise:
			f := regs[e.SourceRegister]
			f.mask = e.Mask
			regs[e.DestRegister] = f
		case *expr.Cmp:
			f := regs[e.Register]
			c := Cond{Field: f.name, Op: cmpOp(e.Op), Value: formatValue(f, e.Data)}
			if f.mask != nil && f.name == "ct state" && e.Op == expr.CmpOpNeq && isZero(e.Data) {
				c = Cond{Field: "ct state", Op: "in", Value: ctStates(f.mask)}
			}
			switch {
			case f.name == "meta nfproto" && c.Op == "==":
				l3 = c.Value
			case f.name == "meta l4proto" && c.Op == "==", f.name == "ip protocol" && c.Op == "==", f.name == "ip6 nexthdr" && c.Op == "==":
				l4 = c.Value
			}
			r.Conds = append(r.Conds, c)
		case *expr.Range:
			f := regs[e.Register]
			r.Conds = append(r.Conds, Cond{Field: f.name, Op: rangeOp(e.Op), Value: formatValue(f, e.FromData) + "-" + formatValue(f, e.ToData)})
		case *expr.Lookup:
			f := regs[e.SourceRegister]
			if e.IsDestRegSet && e.DestRegister == unix.NFT_REG_VERDICT {
				r.Verdict, r.Target = VMap, e.SetName
				r.Conds = append(r.Conds, Cond{Field: f.name, Op: "in", Value: "@" + e.SetName})
				continue
			}
			op := "in"
			if e.Invert {
				op = "not in"
			}
			r.Conds = append(r.Conds, Cond{Field: f.name, Op: op, Value: "@" + e.SetName})
		case *expr.Limit:
			r.Conds = append(r.Conds, Cond{Field: "limit", Op: "rate", Value: strconv.FormatUint(e.Rate, 10) + "/" + limitUnit(e.Unit)})
		case *expr.Quota:
			r.Conds = append(r.Conds, Cond{Field: "quota", Op: "bytes", Value: strconv.FormatUint(e.Bytes, 10)})
		case *expr.Connlimit:
			r.Conds = append(r.Conds, Cond{Field: "ct count", Op: "over", Value: strconv.Itoa(int(e.Count))})
		case *expr.Match:
			r.Conds = append(r.Conds, xtMatchConds(e)...)
		case *expr.Target:
			switch e.Name {
			case "REJECT":
				r.Verdict = VReject
			case "LOG", "NFLOG", "CHECKSUM", "MARK", "CONNMARK", "TCPMSS":
				// non-terminal actions
			default:
				r.Unknown = append(r.Unknown, "xt target "+e.Name)
			}
		case *expr.Reject:
			r.Verdict = VReject
		case *expr.Verdict:
			switch e.Kind {
			case expr.VerdictAccept:
				r.Verdict = VAccept
			case expr.VerdictDrop:
				r.Verdict = VDrop
			case expr.VerdictJump:
				r.Verdict, r.Target = VJump, e.Chain
			case expr.VerdictGoto:
				r.Verdict, r.Target = VGoto, e.Chain
			case expr.VerdictReturn:
				r.Verdict = VReturn
			case expr.VerdictContinue:
				r.Verdict = VContinue
			case expr.VerdictQueue:
				r.Verdict = VQueue
			default:
				r.Unknown = append(r.Unknown, fmt.Sprintf("verdict %d", e.Kind))
			}
		case *expr.Queue:
			r.Verdict = VQueue
		case *expr.Counter, *expr.Log, *expr.Objref, *expr.Dynset, *expr.Notrack, *expr.NAT,
			*expr.Masq, *expr.Redir, *expr.Immediate, *expr.CtHelper, *expr.SecMark, *expr.FlowOffload,
			*expr.CtTimeout, *expr.CtExpect, *expr.SynProxy:
			// actions that neither select packets nor end the chain
		default:
			r.Unknown = append(r.Unknown, fmt.Sprintf("%T", e))
		}
	}
	return r
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

func cmpOp(op expr.CmpOp) string {
	switch op {
	case expr.CmpOpEq:
		return "=="
	case expr.CmpOpNeq:
		return "!="
	case expr.CmpOpLt:
		return "<"
	case expr.CmpOpLte:
		return "<="
	case expr.CmpOpGt:
		return ">"
	case expr.CmpOpGte:
		return ">="
	}
	return "?"
}

func rangeOp(op expr.CmpOp) string {
	if op == expr.CmpOpNeq {
		return "not in"
	}
	return "in"
}

func limitUnit(u expr.LimitTime) string {
	switch u {
	case expr.LimitTimeSecond:
		return "second"
	case expr.LimitTimeMinute:
		return "minute"
	case expr.LimitTimeHour:
		return "hour"
	case expr.LimitTimeDay:
		return "day"
	}
	return "period"
}

var metaNames = map[expr.MetaKey]string{
	expr.MetaKeyLEN: "meta length", expr.MetaKeyPROTOCOL: "meta protocol", expr.MetaKeyMARK: "meta mark",
	expr.MetaKeyIIF: "iif", expr.MetaKeyOIF: "oif", expr.MetaKeyIIFNAME: "iifname", expr.MetaKeyOIFNAME: "oifname",
	expr.MetaKeyIIFTYPE: "iiftype", expr.MetaKeyOIFTYPE: "oiftype", expr.MetaKeySKUID: "skuid", expr.MetaKeySKGID: "skgid",
	expr.MetaKeyNFPROTO: "meta nfproto", expr.MetaKeyL4PROTO: "meta l4proto", expr.MetaKeyPKTTYPE: "meta pkttype",
	expr.MetaKeyIIFGROUP: "iifgroup", expr.MetaKeyOIFGROUP: "oifgroup", expr.MetaKeyCGROUP: "meta cgroup",
}

func metaName(k expr.MetaKey) string {
	if n, ok := metaNames[k]; ok {
		return n
	}
	return fmt.Sprintf("meta key%d", k)
}

func ctName(k expr.CtKey) string {
	switch k {
	case expr.CtKeySTATE:
		return "ct state"
	case expr.CtKeySTATUS:
		return "ct status"
	case expr.CtKeyMARK:
		return "ct mark"
	case expr.CtKeyDIRECTION:
		return "ct direction"
	}
	return fmt.Sprintf("ct key%d", k)
}

// payloadName names the common header fields; others stay as raw offsets.
func payloadName(p *expr.Payload, l3, l4 string) string {
	switch p.Base {
	case expr.PayloadBaseNetworkHeader:
		switch {
		case l3 == "ipv4" && p.Offset == 12 && p.Len == 4:
			return "ip saddr"
		case l3 == "ipv4" && p.Offset == 16 && p.Len == 4:
			return "ip daddr"
		case l3 == "ipv4" && p.Offset == 9 && p.Len == 1:
			return "ip protocol"
		case l3 == "ipv6" && p.Offset == 8 && p.Len == 16:
			return "ip6 saddr"
		case l3 == "ipv6" && p.Offset == 24 && p.Len == 16:
			return "ip6 daddr"
		case l3 == "ipv6" && p.Offset == 6 && p.Len == 1:
			return "ip6 nexthdr"
		}
		return fmt.Sprintf("network[%d:%d]", p.Offset, p.Len)
	case expr.PayloadBaseTransportHeader:
		switch {
		case p.Offset == 0 && p.Len == 2:
			return "th sport"
		case p.Offset == 2 && p.Len == 2:
			return "th dport"
		case p.Offset == 0 && p.Len == 1 && l4 == "icmp":
			return "icmp type"
		case p.Offset == 0 && p.Len == 1 && l4 == "ipv6-icmp":
			return "icmpv6 type"
		}
		return fmt.Sprintf("transport[%d:%d]", p.Offset, p.Len)
	}
	return fmt.Sprintf("link[%d:%d]", p.Offset, p.Len)
}

var protoNames = map[byte]string{1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp", 132: "sctp", 136: "udplite", 33: "dccp", 47: "gre", 50: "esp"}

var ctStateBits = []struct {
	bit  uint32
	name string
}{{1, "invalid"}, {2, "established"}, {4, "related"}, {8, "new"}, {64, "untracked"}}

func ctStates(mask []byte) string {
	if len(mask) < 4 {
		return "?"
	}
	v := binary.LittleEndian.Uint32(mask)
	var names []string
	for _, s := range ctStateBits {
		if v&s.bit != 0 {
			names = append(names, s.name)
		}
	}
	return "{" + strings.Join(names, ",") + "}"
}

// formatValue renders comparison data for the field it is compared with.
func formatValue(f field, data []byte) string {
	switch f.name {
	case "iifname", "oifname":
		return strings.TrimRight(string(data), "\x00")
	case "meta nfproto":
		if len(data) == 1 {
			switch data[0] {
			case unix.NFPROTO_IPV4:
				return "ipv4"
			case unix.NFPROTO_IPV6:
				return "ipv6"
			}
		}
	case "meta l4proto", "ip protocol", "ip6 nexthdr":
		if len(data) == 1 {
			if n, ok := protoNames[data[0]]; ok {
				return n
			}
			return strconv.Itoa(int(data[0]))
		}
	case "th dport", "th sport":
		if len(data) == 2 {
			return strconv.Itoa(int(binary.BigEndian.Uint16(data)))
		}
	case "ip saddr", "ip daddr", "ip6 saddr", "ip6 daddr":
		if len(data) == 4 || len(data) == 16 {
			s := net.IP(data).String()
			if f.mask != nil {
				ones, _ := net.IPMask(f.mask).Size()
				s += "/" + strconv.Itoa(ones)
			}
			return s
		}
	case "ct state":
		return ctStates(data)
	case "iif", "oif", "meta mark", "icmp type", "icmpv6 type", "meta pkttype", "skuid", "skgid":
		switch len(data) {
		case 1:
			return strconv.Itoa(int(data[0]))
		case 2:
			return strconv.Itoa(int(binary.LittleEndian.Uint16(data)))
		case 4:
			return strconv.Itoa(int(binary.LittleEndian.Uint32(data)))
		}
	}
	return fmt.Sprintf("0x%x", data)
}

// owner recognises tables that a firewall manager keeps, so the evidence
// can say who to ask before changing them.
func owner(t *Table) string {
	switch {
	case t.Name == "firewalld":
		return "firewalld"
	case t.Name == "vigie":
		return "vigie"
	}
	for _, c := range t.Chains {
		if strings.HasPrefix(c.Name, "ufw-") || strings.HasPrefix(c.Name, "ufw6-") {
			return "ufw (iptables-nft)"
		}
	}
	if (t.Family == "ip" || t.Family == "ip6") && (t.Name == "filter" || t.Name == "nat" || t.Name == "mangle" || t.Name == "raw" || t.Name == "security") {
		for _, c := range t.Chains {
			if c.Name == "INPUT" || c.Name == "FORWARD" || c.Name == "OUTPUT" || c.Name == "PREROUTING" || c.Name == "POSTROUTING" {
				return "iptables-nft"
			}
		}
	}
	return ""
}

func nftablesFamily(b byte) nftables.TableFamily { return nftables.TableFamily(b) }

// xtMatchConds decodes the iptables match modules iptables-nft and ufw use
// most; others stay opaque conditions.
func xtMatchConds(m *expr.Match) []Cond {
	switch info := m.Info.(type) {
	case *xt.ConntrackMtinfo1:
		return []Cond{{Field: "ct state", Op: "in", Value: ctStates(le32(uint32(info.StateMask)))}}
	case *xt.ConntrackMtinfo2:
		return []Cond{{Field: "ct state", Op: "in", Value: ctStates(le32(uint32(info.StateMask)))}}
	case *xt.ConntrackMtinfo3:
		return []Cond{{Field: "ct state", Op: "in", Value: ctStates(le32(uint32(info.StateMask)))}}
	case *xt.Tcp:
		return append([]Cond{{Field: "meta l4proto", Op: "==", Value: "tcp"}}, portRangeCond(info.DstPorts)...)
	case *xt.Udp:
		return append([]Cond{{Field: "meta l4proto", Op: "==", Value: "udp"}}, portRangeCond(info.DstPorts)...)
	}
	return []Cond{{Field: "xt match " + m.Name}}
}

func portRangeCond(p [2]uint16) []Cond {
	switch {
	case p[0] == 0 && p[1] == 0xffff:
		return nil
	case p[0] == p[1]:
		return []Cond{{Field: "th dport", Op: "==", Value: strconv.Itoa(int(p[0]))}}
	}
	return []Cond{{Field: "th dport", Op: "in", Value: strconv.Itoa(int(p[0])) + "-" + strconv.Itoa(int(p[1]))}}
}

func le32(v uint32) []byte {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint32(b, v)
	return b
}

// readSets reads a table's sets and maps with their elements, so that
// "tcp dport { 22, 443 }" and "meta l4proto { icmp, ipv6-icmp }" can be
// judged by what they hold.
func readSets(conn *nftables.Conn, t *nftables.Table) (map[string]*Set, error) {
	sets, err := conn.GetSets(t)
	if err != nil {
		return nil, fmt.Errorf("list sets of %s %s: %w", familyName(t.Family), t.Name, err)
	}
	out := map[string]*Set{}
	for _, s := range sets {
		ms := &Set{Name: s.Name, KeyType: s.KeyType.Name}
		out[s.Name] = ms
		if s.Concatenation {
			continue
		}
		elems, err := conn.GetSetElements(s)
		if err != nil {
			return nil, fmt.Errorf("list elements of set %s: %w", s.Name, err)
		}
		ms.Elements = len(elems)
		if s.KeyType.Name == nftables.TypeInetService.Name {
			ms.Ports = portRanges(elems, s.Interval, s.IsMap)
			continue
		}
		f := field{name: setKeyField[s.KeyType.Name]}
		if f.name == "" || s.Interval {
			continue
		}
		for _, e := range elems {
			if s.IsMap && (e.VerdictData == nil || e.VerdictData.Kind != expr.VerdictAccept) {
				continue // a verdict map only lets through the keys mapped to accept
			}
			v := formatValue(f, e.Key)
			if f.name == "ct state" {
				v = strings.Trim(v, "{}")
			}
			ms.Values = append(ms.Values, v)
		}
	}
	return out, nil
}

// setKeyField names the packet field a set's key type holds.
var setKeyField = map[string]string{
	"inet_proto": "meta l4proto", "ct_state": "ct state", "ipv4_addr": "ip saddr",
	"ipv6_addr": "ip6 saddr", "ifname": "iifname", "nf_proto": "meta nfproto", "mark": "meta mark",
	"icmp_type": "icmp type", "icmpv6_type": "icmpv6 type",
}

// portRanges turns set elements keyed by port into ranges. Interval sets
// hold each range as a start element and an end element one past it; a
// verdict map keeps only the keys that map to accept.
func portRanges(elems []nftables.SetElement, interval, isMap bool) []PortRange {
	type bound struct {
		port int
		end  bool
		ok   bool
	}
	var bs []bound
	for _, e := range elems {
		if len(e.Key) != 2 {
			continue
		}
		ok := !isMap || (e.VerdictData != nil && e.VerdictData.Kind == expr.VerdictAccept)
		bs = append(bs, bound{port: int(binary.BigEndian.Uint16(e.Key)), end: e.IntervalEnd, ok: ok})
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].port < bs[j].port })
	var out []PortRange
	for i := 0; i < len(bs); i++ {
		b := bs[i]
		if b.end || !b.ok {
			continue
		}
		r := PortRange{From: b.port, To: b.port}
		if interval {
			r.To = 65535
			if i+1 < len(bs) && bs[i+1].end {
				r.To = bs[i+1].port - 1
				i++
			}
		}
		out = append(out, r)
	}
	return out
}

// inlineAnonymousSets shows the ports of an anonymous set in the rule, as
// nft prints "tcp dport { 22, 443 }", instead of its internal name.
func inlineAnonymousSets(t *Table) {
	for _, c := range t.Chains {
		for _, r := range c.Rules {
			for i, cond := range r.Conds {
				if !strings.HasPrefix(cond.Value, "@__") {
					continue
				}
				s := t.Sets[cond.Value[1:]]
				if s == nil || (s.Ports == nil && s.Values == nil) {
					continue
				}
				parts := append([]string(nil), s.Values...)
				for _, p := range s.Ports {
					if p.From == p.To {
						parts = append(parts, strconv.Itoa(p.From))
					} else {
						parts = append(parts, strconv.Itoa(p.From)+"-"+strconv.Itoa(p.To))
					}
				}
				r.Conds[i].Value = "{" + strings.Join(parts, ",") + "}"
			}
		}
	}
}
