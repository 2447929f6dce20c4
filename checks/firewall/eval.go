package firewall

import "strings"

// Outcome of a chain for a packet that meets no particular condition: a new
// connection from anywhere to any port.
const (
	outAccept      = "accept"
	outDrop        = "drop"
	outFallthrough = "fallthrough" // regular chain ended or returned: the caller goes on
	outUnknown     = "unknown"     // queued to user space, or decided by a map
)

const maxJumpDepth = 16

// HookVerdict is what the ruleset does, on one hook, to packets of one IP
// family.
type HookVerdict struct {
	Family  string
	Hook    string
	Chains  []string // base chains seen, in the order they run
	Filters []Filter // base chains that drop what they do not accept
	Unknown []string // chains whose effect on an unremarkable packet is not known
}

// Filter is a base chain that drops an unremarkable packet, with what it
// lets through. A packet must be let through by every filter on the hook.
type Filter struct {
	Chain     string
	DecidedBy string // the rule or policy that drops
	Accepts   []Exception
	Unknown   []string // rules whose effect could not be known
}

// Deny reports whether an unremarkable packet is dropped.
func (hv HookVerdict) Deny() bool { return len(hv.Filters) > 0 }

// Narrowest returns the filter that lets the least through: one without a
// broad or unknown exception when there is one.
func (hv HookVerdict) Narrowest() (Filter, bool) {
	if len(hv.Filters) == 0 {
		return Filter{}, false
	}
	best := hv.Filters[0]
	for _, f := range hv.Filters {
		if f.broad() == 0 && len(f.Unknown) == 0 {
			return f, true
		}
		if f.broad() < best.broad() {
			best = f
		}
	}
	return best, true
}

func (f Filter) broad() int {
	n := 0
	for _, a := range f.Accepts {
		if a.Broad {
			n++
		}
	}
	return n
}

// Exception is a rule that accepts some packets before the final drop.
type Exception struct {
	table *Table
	Chain string
	Rule  *Rule
	Path  []Cond // conditions of the rules that jumped here
	Broad bool   // accepts new connections without a narrowing condition
}

func (e Exception) String() string {
	var b strings.Builder
	for _, c := range e.Path {
		b.WriteString(c.String())
		b.WriteString(" ")
	}
	if len(e.Path) > 0 {
		b.WriteString("→ ")
	}
	b.WriteString(e.Rule.String())
	return e.Chain + ": " + strings.TrimSpace(b.String())
}

// Conds returns every condition a packet meets to be accepted here.
func (e Exception) Conds(family string) []Cond {
	_, own := e.Rule.applies(family)
	return append(append([]Cond(nil), e.Path...), own...)
}

// Evaluate applies nftables' semantics to one hook and IP family: every
// base chain on the hook runs in priority order, accept ends only its own
// chain, drop (or reject) is final, and a chain that ends without a verdict
// applies its policy. Dormant tables see nothing.
func (rs *Ruleset) Evaluate(hook, family string) HookVerdict {
	hv := HookVerdict{Family: family, Hook: hook}
	for _, c := range rs.BaseChains(hook, family) {
		hv.Chains = append(hv.Chains, c.ID())
		out, by := c.outcome(family, 0)
		if out == outFallthrough {
			out = c.Policy
			by = "policy " + c.Policy
		}
		switch out {
		case outDrop:
			f := Filter{Chain: c.ID(), DecidedBy: by}
			f.Accepts, f.Unknown = c.exceptions(family, nil, 0)
			hv.Filters = append(hv.Filters, f)
		case outUnknown:
			hv.Unknown = append(hv.Unknown, c.ID()+": "+by)
		}
	}
	return hv
}

// applies reports whether a rule can match packets of family, and strips
// the family test itself: in an inet table, "meta nfproto ipv4" (which nft
// adds before any ip field) decides the family.
func (r *Rule) applies(family string) (bool, []Cond) {
	var rest []Cond
	for _, c := range r.Conds {
		if c.Field == "meta nfproto" && c.Op == "==" {
			if c.Value != family {
				return false, nil
			}
			continue
		}
		rest = append(rest, c)
	}
	return true, rest
}

// outcome follows a chain for an unremarkable packet: only unconditional
// rules apply to it.
func (c *Chain) outcome(family string, depth int) (string, string) {
	if depth > maxJumpDepth {
		return outUnknown, "jumps nested too deep"
	}
	for _, r := range c.Rules {
		ok, conds := r.applies(family)
		if !ok || len(conds) > 0 {
			continue
		}
		if len(r.Unknown) > 0 {
			if r.Verdict != VNone {
				return outUnknown, "undecodable rule: " + r.String()
			}
			continue
		}
		switch r.Verdict {
		case VAccept:
			return outAccept, "rule: " + r.String()
		case VDrop, VReject:
			return outDrop, "rule: " + r.String()
		case VReturn:
			return outFallthrough, "rule: return"
		case VQueue, VMap:
			return outUnknown, "rule: " + r.String()
		case VJump, VGoto:
			t := c.Table.Chain(r.Target)
			if t == nil {
				return outUnknown, "jump to missing chain " + r.Target
			}
			out, by := t.outcome(family, depth+1)
			if out != outFallthrough {
				return out, t.Name + " " + by
			}
			if r.Verdict == VGoto {
				return outFallthrough, "goto " + r.Target + " returned"
			}
		}
	}
	return outFallthrough, ""
}

// exceptions lists the accepting rules a packet can meet in the chain
// before the unconditional rule that decides it, following jumps.
func (c *Chain) exceptions(family string, path []Cond, depth int) ([]Exception, []string) {
	var acc []Exception
	var unknown []string
	if depth > maxJumpDepth {
		return nil, []string{c.ID() + ": jumps nested too deep"}
	}
	for _, r := range c.Rules {
		ok, conds := r.applies(family)
		if !ok {
			continue
		}
		if len(r.Unknown) > 0 && r.Verdict != VNone && r.Verdict != VDrop && r.Verdict != VReject {
			unknown = append(unknown, c.ID()+": "+r.String())
			continue
		}
		switch r.Verdict {
		case VAccept:
			full := append(append([]Cond(nil), path...), conds...)
			acc = append(acc, Exception{table: c.Table, Chain: c.ID(), Rule: r, Path: path, Broad: !narrows(full)})
		case VMap:
			acc = append(acc, Exception{table: c.Table, Chain: c.ID(), Rule: r, Path: path, Broad: false})
		case VQueue:
			unknown = append(unknown, c.ID()+": "+r.String())
		case VJump, VGoto:
			if t := c.Table.Chain(r.Target); t != nil {
				a, u := t.exceptions(family, append(append([]Cond(nil), path...), conds...), depth+1)
				acc = append(acc, a...)
				unknown = append(unknown, u...)
			}
		}
		if len(conds) == 0 && len(r.Unknown) == 0 && (r.Verdict == VDrop || r.Verdict == VReject || r.Verdict == VAccept || r.Verdict == VGoto || r.Verdict == VReturn) {
			break // later rules never see an unremarkable packet
		}
	}
	return acc, unknown
}

// narrows reports whether conditions restrict an accept to something
// less than "any new connection": an interface, a port, a source, an ICMP
// type, established/related state, a set or a match module. A protocol, a
// rate limit or a state that includes new do not.
func narrows(conds []Cond) bool {
	for _, c := range conds {
		switch {
		case c.Field == "ct state":
			if !strings.Contains(c.Value, "new") && !strings.Contains(c.Value, "untracked") && c.Op != "!=" && c.Op != "not in" {
				return true
			}
		case (c.Field == "meta l4proto" || c.Field == "ip protocol" || c.Field == "ip6 nexthdr") &&
			(c.Op == "==" || c.Op == "in") && onlyControl(c.Value):
			return true // control messages, not services
		case c.Field == "meta l4proto", c.Field == "ip protocol", c.Field == "ip6 nexthdr", c.Field == "meta nfproto",
			c.Field == "limit", c.Field == "quota", c.Field == "meta pkttype", c.Field == "fib", c.Field == "meta length":
		case c.Field == "ip saddr" || c.Field == "ip6 saddr":
			if !strings.HasSuffix(c.Value, "/0") {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// onlyControl reports whether a protocol value or list names only ICMP,
// ICMPv6 and IGMP.
func onlyControl(v string) bool {
	if strings.HasPrefix(v, "@") {
		return false
	}
	for _, p := range strings.Split(strings.Trim(v, "{}"), ",") {
		if p != "icmp" && p != "ipv6-icmp" && p != "igmp" {
			return false
		}
	}
	return true
}
