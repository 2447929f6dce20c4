package firewall

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vigie-agent/vigie/checks"
)

// Check ids of the firewall area.
const (
	IDInputDeny   = "firewall.input-default-deny"
	IDForwardDeny = "firewall.forward-default-deny"
	IDPersistent  = "firewall.persistent"
	IDExposed     = "firewall.exposed-services"
	IDLegacy      = "firewall.legacy-rules"
)

const source = "nftables (netlink)"

// hookRule decides default-deny on one hook for every IP family the host
// speaks.
func hookRule(hook string) func(*Facts) checks.Result {
	return func(f *Facts) checks.Result {
		if f.Ruleset == nil {
			return checks.Errorf("cannot read the nftables ruleset: %s", f.RulesetErr)
		}
		var ev []checks.Evidence
		var bad, unknown, good []string
		for _, fam := range []string{"ipv4", "ipv6"} {
			if fam == "ipv6" && f.IPv6Disabled {
				ev = append(ev, checks.Evidence{Subject: fam, Key: hook, Value: "IPv6 is disabled in the kernel", OK: true})
				continue
			}
			hv := f.Ruleset.Evaluate(hook, fam)
			e, verdict, state := describeHook(f.Ruleset, hv)
			ev = append(ev, e...)
			switch state {
			case "fail":
				bad = append(bad, verdict)
			case "unknown":
				unknown = append(unknown, verdict)
			default:
				good = append(good, verdict)
			}
		}
		var r checks.Result
		switch {
		case len(bad) > 0:
			r = checks.Failf("%s", strings.Join(append(bad, good...), "; "))
		case len(unknown) > 0:
			r = checks.Errorf("%s", strings.Join(append(unknown, good...), "; "))
		default:
			r = checks.Passf("%s", strings.Join(good, "; "))
		}
		return r.With(ev...)
	}
}

// describeHook says in plain words what a hook does for one family.
func describeHook(rs *Ruleset, hv HookVerdict) ([]checks.Evidence, string, string) {
	fam := strings.Replace(strings.ToUpper(hv.Family), "IPV", "IPv", 1)
	var ev []checks.Evidence
	chains := hv.Chains
	if chains == nil {
		chains = []string{}
	}
	ev = append(ev, checks.Evidence{Subject: hv.Family, Key: hv.Hook + "_chains", Value: chains, Source: source, OK: hv.Deny()})
	for _, t := range rs.Tables {
		if t.Owner != "" && t.Owner != "vigie" && familySees(t.Family, hv.Family) {
			ev = append(ev, checks.Evidence{Subject: t.Family + " " + t.Name, Key: "managed_by", Value: t.Owner, Source: source, OK: true})
		}
		if t.Dormant && familySees(t.Family, hv.Family) {
			ev = append(ev, checks.Evidence{Subject: t.Family + " " + t.Name, Key: "dormant", Value: "table is dormant: its chains see no packet", Source: source, OK: true})
		}
	}
	if !hv.Deny() {
		why := "no " + hv.Hook + " filter chain exists"
		if len(hv.Chains) > 0 {
			why = "every " + hv.Hook + " chain (" + strings.Join(hv.Chains, ", ") + ") lets unmatched packets through"
		}
		if len(hv.Unknown) > 0 {
			return ev, fam + ": " + why + "; undecided: " + strings.Join(hv.Unknown, "; "), "unknown"
		}
		return ev, fam + ": not default-deny, " + why, "fail"
	}
	f, _ := hv.Narrowest()
	var accepts, broad []string
	for _, a := range f.Accepts {
		accepts = append(accepts, a.String())
		if a.Broad {
			broad = append(broad, a.String())
		}
	}
	if accepts == nil {
		accepts = []string{}
	}
	ev = append(ev,
		checks.Evidence{Subject: hv.Family, Key: hv.Hook + "_default", Value: f.Chain + ": " + f.DecidedBy, Want: "drop", Source: source, OK: true},
		checks.Evidence{Subject: hv.Family, Key: hv.Hook + "_exceptions", Value: accepts, Want: "each narrowed by port, interface, source or established state", Source: source, OK: len(broad) == 0})
	switch {
	case len(broad) > 0:
		return ev, fam + ": " + f.Chain + " drops by default but accepts any new connection with: " + strings.Join(broad, "; "), "fail"
	case len(f.Unknown) > 0:
		ev = append(ev, checks.Evidence{Subject: hv.Family, Key: "undecoded", Value: f.Unknown, Source: source})
		return ev, fam + ": " + f.Chain + " drops by default, but vigie cannot decode: " + strings.Join(f.Unknown, "; "), "unknown"
	}
	return ev, fmt.Sprintf("%s: default-deny by %s (%s), %d narrow exception(s)", fam, f.Chain, f.DecidedBy, len(f.Accepts)), "pass"
}

func forwardRule(f *Facts) checks.Result {
	r := hookRule("forward")(f)
	if !f.Forwarding["ipv4"] && !f.Forwarding["ipv6"] {
		low := checks.Low
		r.Severity = &low
		r.Reason += " (forwarding is off in sysctl: nothing is routed through this host)"
		r.Evidence = append(r.Evidence, checks.Evidence{Key: "net.ipv4.ip_forward", Value: "0", Source: "sysctl", OK: true})
	}
	return r
}

func persistentRule(f *Facts) checks.Result {
	p := f.Persist
	var ev []checks.Evidence
	for _, u := range persistUnits {
		if st := p.Units[u]; st != "" {
			ev = append(ev, checks.Evidence{Subject: u, Key: "unit_file_state", Value: st, Source: p.Via, OK: st == "enabled"})
		}
	}
	enabled := func(u string) bool { return p.Units[u] == "enabled" }
	switch {
	case enabled("firewalld.service"):
		return f.managerPersists("firewalld", ev)
	case enabled("ufw.service") && p.UFW:
		return f.managerPersists("ufw", ev)
	}
	var files, loaders []string
	for _, b := range p.Boot {
		files, loaders = append(files, b.File), append(loaders, b.Unit)
	}
	what := strings.Join(files, " then ")
	if len(files) > 0 {
		ev = append(ev, checks.Evidence{Subject: what, Key: "loads", Value: loadSummary(p), Source: "nft -f in a scratch network namespace", File: files[len(files)-1], OK: p.LoadErr == "" && p.Loaded != nil})
	}
	problems := append([]string(nil), p.Missing...)
	switch {
	case len(files) == 0 && len(p.Missing) == 0:
		var states []string
		for _, u := range []string{BootUnit, "nftables.service"} {
			st := p.Units[u]
			if st == "" {
				st = "not installed"
			}
			states = append(states, u+" is "+st)
		}
		problems = append(problems, strings.Join(states, " and ")+", so nothing loads a ruleset at boot")
	case len(files) == 0:
	case p.LoadErr != "":
		problems = append(problems, what+" does not load: "+p.LoadErr)
	default:
		for _, fam := range f.Families() {
			if hv := p.Loaded.Evaluate("input", fam); !hv.Deny() {
				problems = append(problems, what+" loads no default-deny input chain for "+fam)
			}
		}
	}
	if len(problems) > 0 {
		return checks.Failf("after a reboot the host would not be default-deny: %s", strings.Join(problems, "; ")).With(ev...)
	}
	are, load := "is", "loads"
	if len(loaders) > 1 {
		are, load = "are", "load"
	}
	return checks.Passf("%s %s enabled and %s %s a default-deny input ruleset for %s", strings.Join(loaders, " and "), are, what, load, strings.Join(f.Families(), " and ")).With(ev...)
}

func loadSummary(p Persistence) string {
	if p.LoadErr != "" {
		return p.LoadErr
	}
	var tables []string
	for _, t := range p.Loaded.Tables {
		tables = append(tables, t.Family+" "+t.Name)
	}
	return "tables: " + strings.Join(tables, ", ")
}

// managerPersists trusts a firewall manager to restore its own ruleset, if
// the live ruleset it manages is default-deny.
func (f *Facts) managerPersists(name string, ev []checks.Evidence) checks.Result {
	if f.Ruleset == nil {
		return checks.Errorf("%s restores the ruleset at boot, but the live ruleset cannot be read: %s", name, f.RulesetErr).With(ev...)
	}
	for _, fam := range f.Families() {
		if !f.Ruleset.Evaluate("input", fam).Deny() {
			return checks.Failf("%s is enabled, but the ruleset it restores is not default-deny for %s", name, fam).With(ev...)
		}
	}
	return checks.Passf("%s is enabled and restores its default-deny ruleset at boot", name).With(ev...)
}

func exposedRule(f *Facts) checks.Result {
	if f.ListenersErr != "" && len(f.Listeners) == 0 {
		return checks.Errorf("cannot list listening sockets: %s", f.ListenersErr)
	}
	if f.Ruleset == nil {
		return checks.Errorf("cannot read the nftables ruleset: %s", f.RulesetErr)
	}
	verdicts := map[string]HookVerdict{}
	for _, fam := range f.Families() {
		verdicts[fam] = f.Ruleset.Evaluate("input", fam)
	}
	var ev []checks.Evidence
	var bad []string
	seen := map[string]bool{}
	for _, l := range f.Listeners {
		if l.Loopback() {
			continue
		}
		key := l.String()
		if seen[key] {
			continue
		}
		seen[key] = true
		open, why := false, ""
		for _, fam := range l.Families(f.BindV6Only) {
			hv, ok := verdicts[fam]
			if !ok {
				continue
			}
			if o, w := hv.Admits(l.Proto, l.Port); o {
				open, why = true, fam+": "+w
				break
			} else if why == "" {
				why = fam + ": " + w
			}
		}
		e := checks.Evidence{Subject: l.Subject(), Key: "reachable", Value: open, Source: source, OK: true}
		switch {
		case !open:
			e.Want = why
		case f.heldBySSHSocket(l):
			e.Want = "open on purpose: sshd through " + f.SSHSocket.Unit + " (" + why + ")"
		case f.sshdPort(l):
			e.Want = "open on purpose: sshd (" + why + ")"
		case f.allowed(l):
			e.Want = "open on purpose: firewall.allowed_ports lists " + strconv.Itoa(l.Port) + "/" + l.Proto + " (" + why + ")"
		default:
			e.OK = false
			e.Want = "dropped, or listed in firewall.allowed_ports (" + why + ")"
			bad = append(bad, key)
		}
		ev = append(ev, e)
	}
	if f.ListenersErr != "" {
		ev = append(ev, checks.Evidence{Key: "error", Value: f.ListenersErr})
	}
	if len(bad) > 0 {
		return checks.Failf("reachable from the network and not meant to be: %s", strings.Join(bad, ", ")).With(ev...)
	}
	if len(seen) == 0 {
		return checks.Passf("no socket listens on a non-loopback address").With(ev...)
	}
	return checks.Passf("%d listening socket(s): each dropped by the firewall or open on purpose", len(seen)).With(ev...)
}

func legacyRule(f *Facts) checks.Result {
	l := f.Legacy
	var ev []checks.Evidence
	for _, fam := range []string{"ipv4", "ipv6"} {
		if t := l.Tables[fam]; len(t) > 0 {
			ev = append(ev, checks.Evidence{Subject: fam, Key: "legacy_tables", Value: t, Source: "/proc/net/ip*_tables_names", OK: true})
		}
	}
	if len(l.Rules) > 0 {
		ev = append(ev, checks.Evidence{Key: "legacy_rules", Value: l.Rules, Source: "iptables-legacy-save", Want: "none: nftables tools do not show them"})
		return checks.Failf("%d legacy iptables rule(s) or policies are enforced but invisible to nft: %s", len(l.Rules), checks.Abridge(l.Rules, 3, "; ")).With(ev...)
	}
	if l.Err != "" {
		return checks.Errorf("%s", l.Err).With(ev...)
	}
	return checks.Passf("no rule in the legacy x_tables interface").With(ev...)
}
