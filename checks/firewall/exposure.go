package firewall

import (
	"strconv"
	"strings"
)

// Admits reports whether the hook lets a new connection from anywhere reach
// proto/port, and which rule (or absence of a filter) decides it. Every
// filter on the hook must let the connection through.
func (hv HookVerdict) Admits(proto string, port int) (bool, string) {
	if !hv.Deny() {
		if len(hv.Chains) == 0 {
			return true, "no " + hv.Family + " " + hv.Hook + " filter chain"
		}
		return true, "no " + hv.Family + " chain drops it (" + strings.Join(hv.Chains, ", ") + " end in accept)"
	}
	why := ""
	for _, f := range hv.Filters {
		admitted := false
		for _, e := range f.Accepts {
			if e.admits(hv.Family, proto, port) {
				admitted = true
				why = "accepted by " + e.String()
				break
			}
		}
		if !admitted {
			return false, "dropped by " + f.Chain + " (" + f.DecidedBy + ")"
		}
	}
	return true, why
}

// admits reports whether a new connection from an arbitrary source to
// proto/port meets every condition of the exception. Conditions vigie does
// not understand are assumed to match: an unknown rule may open the port.
func (e Exception) admits(family, proto string, port int) bool {
	for _, c := range e.Conds(family) {
		if !condAdmits(c, e.table, proto, port) {
			return false
		}
	}
	return true
}

func condAdmits(c Cond, t *Table, proto string, port int) bool {
	neg := c.Op == "!=" || c.Op == "not in"
	switch c.Field {
	case "meta l4proto", "ip protocol", "ip6 nexthdr":
		return inList(c.Value, proto) != neg
	case "th dport":
		return portMatches(c.Value, t, port) != neg
	case "ct state":
		return (strings.Contains(c.Value, "new") || strings.Contains(c.Value, "untracked")) != neg
	case "iifname", "iif":
		if c.Value == "lo" || c.Value == "1" {
			return neg // traffic from elsewhere never arrives on lo
		}
		return true
	case "ip saddr", "ip6 saddr", "th sport", "icmp type", "icmpv6 type":
		// A source restriction or a source port does not admit arbitrary
		// clients; ICMP types are not TCP or UDP.
		return neg && c.Field != "icmp type" && c.Field != "icmpv6 type"
	}
	return true
}

func portMatches(v string, t *Table, port int) bool {
	if strings.HasPrefix(v, "{") && strings.HasSuffix(v, "}") {
		for _, part := range strings.Split(v[1:len(v)-1], ",") {
			if portMatches(part, t, port) {
				return true
			}
		}
		return false
	}
	if strings.HasPrefix(v, "@") {
		if t == nil || t.Sets[v[1:]] == nil {
			return true // unknown set: may hold the port
		}
		return containsPort(t.Sets[v[1:]].Ports, port)
	}
	if from, to, ok := strings.Cut(v, "-"); ok {
		a, err1 := strconv.Atoi(from)
		b, err2 := strconv.Atoi(to)
		return err1 != nil || err2 != nil || (port >= a && port <= b)
	}
	n, err := strconv.Atoi(v)
	return err != nil || n == port
}

// inList matches a value against "x" or "{x,y}"; an unresolved "@set" may
// hold anything.
func inList(v, x string) bool {
	if strings.HasPrefix(v, "@") {
		return true
	}
	for _, p := range strings.Split(strings.Trim(v, "{}"), ",") {
		if p == x {
			return true
		}
	}
	return false
}
