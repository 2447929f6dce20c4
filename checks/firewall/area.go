package firewall

import (
	"context"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
)

var denyByDefault = checks.Seed(checks.SectionBestPractices,
	"de vérifier et de mettre à jour le pare-feu et les règles de filtrage si nécessaire (en suivant le principe du moindre privilège : « Tout refuser par défaut, autoriser par exception »)")

var networkDuty = checks.Seed(checks.SectionCustomer,
	"Sécurité réseau de vos instances : configuration des pare-feu, des groupes de sécurité et de l'accès réseau pour vos instances.")

var rules = []checks.Rule[*Facts]{
	{Meta: checks.Meta{
		ID: IDInputDeny, Title: "Inbound traffic is denied by default, for IPv4 and IPv6", Severity: checks.High, Remediation: &checks.Remediation{ID: "firewall", Destructive: false},
		Rationale:  "A security group outside the instance is not enough: it is configured elsewhere, often opened wide for a test, and does not see traffic from neighbours in a private network. The seed asks for « tout refuser par défaut, autoriser par exception » inside the guest. vigie evaluates the live nftables ruleset the way the kernel does: every input base chain runs in priority order, an accept only ends its own chain, a drop is final, dormant tables do not count, and an inet table covers both families while ip and ip6 tables cover one each. The check passes when, for each family, some input chain drops what it does not accept, and every accept it holds is narrowed (a port, an interface, a source, established state), not \"any new connection\".",
		ManualFix:  "Write /etc/nftables.conf with an inet table whose input chain has `policy drop;` and accepts only: `ct state established,related accept`, `iifname \"lo\" accept`, ICMP/ICMPv6 (`meta l4proto { icmp, ipv6-icmp } accept`), and the services you mean to expose, e.g. `tcp dport 22 accept`. Check it with `nft -c -f /etc/nftables.conf`, apply with `nft -f /etc/nftables.conf` from a console or with a timed rollback, then `systemctl enable nftables`. Do both IPv4 and IPv6: an `ip` table alone leaves IPv6 open.",
		References: []checks.Reference{denyByDefault, networkDuty, {Source: "CIS Debian Linux 12 Benchmark v1.1.0", Section: "4.3.8", Text: "Ensure nftables default deny firewall policy"}},
		Image:      checks.LiveOnly("the ruleset in force is the running kernel's, and the kernel this machine runs is not the image's; the ruleset the image loads at boot is judged from its files by firewall.persistent"),
	}, Eval: hookRule("input")},
	{Meta: checks.Meta{
		ID: IDForwardDeny, Title: "Forwarded traffic is denied by default", Severity: checks.Medium, Remediation: &checks.Remediation{ID: "firewall", Destructive: false},
		Rationale:  "A host that routes (containers, VPN, a gateway) must not forward what nobody allowed. With forwarding off in sysctl the gap matters less, so the finding drops to low severity then.",
		ManualFix:  "Add to the inet table a chain `forward { type filter hook forward priority 0; policy drop; }` and accept only the flows you route (`ct state established,related accept`, then per interface or subnet). Persist it in /etc/nftables.conf.",
		References: []checks.Reference{denyByDefault, networkDuty, {Source: "CIS Debian Linux 12 Benchmark v1.1.0", Section: "4.3.8", Text: "Ensure nftables default deny firewall policy"}},
		Image:      checks.LiveOnly("the ruleset in force and whether the host forwards are the running kernel's, and the kernel this machine runs is not the image's; the ruleset the image loads at boot is judged from its files by firewall.persistent"),
	}, Eval: forwardRule},
	{Meta: checks.Meta{
		ID: IDPersistent, Title: "The default-deny ruleset comes back after a reboot", Severity: checks.High, Remediation: &checks.Remediation{ID: "firewall", Destructive: false},
		Rationale:  "A ruleset loaded by hand is gone at the next reboot, which on a cloud instance can come at any time (host maintenance, resize). vigie checks that a boot service will load a ruleset (nftables.service, vigie's own vigie-firewall.service, firewalld or ufw), and loads the files those units load, in their boot order, into a scratch network namespace itself (nothing on the host changes) to see that they parse and are default-deny for every family. A file that fails to parse at boot, e.g. because a minimal image lacks /etc/protocols, leaves the host open.",
		ManualFix:  "`vigie fix --only firewall` writes /etc/vigie/vigie.nft and vigie-firewall.service, which loads that table alone at boot and flushes nothing else. By hand: `nft list ruleset > /etc/nftables.conf` (its `flush ruleset` line at the top wipes at boot every table another tool loaded earlier, e.g. netfilter-persistent's), check it with `nft -c -f /etc/nftables.conf`, then `systemctl enable nftables`. On RHEL the file is /etc/sysconfig/nftables.conf. If firewalld or ufw manage the host, enable their service instead.",
		References: []checks.Reference{denyByDefault, {Source: "CIS Debian Linux 12 Benchmark v1.1.0", Section: "4.3.9", Text: "Ensure nftables service is enabled"}, {Source: "CIS Debian Linux 12 Benchmark v1.1.0", Section: "4.3.10", Text: "Ensure nftables rules are permanent"}},
		Image:      checks.FromFiles("the units the image enables at boot (its /etc/systemd symlinks) and the files they load, loaded with this machine's nft into a scratch network namespace where the image's /etc is /etc (its includes, /etc/protocols and /etc/services); a ruleset firewalld or ufw build at boot is not evaluated from the files"),
	}, Eval: persistentRule},
	{Meta: checks.Meta{
		ID: IDExposed, Title: "Every listening service is either filtered or open on purpose", Severity: checks.Medium, Remediation: &checks.Remediation{ID: "firewall", Destructive: false},
		Rationale:  "Default-deny only helps if the exceptions are the services you mean to offer. vigie lists every socket listening on a non-loopback address, with its owning process, and asks the ruleset whether a new connection from anywhere would reach it. sshd is expected to be reachable, and so is a port PID 1 holds for a socket-activated sshd (ssh.socket or sshd.socket, Ubuntu's default); anything else must be dropped or listed in firewall.allowed_ports.",
		ManualFix:  "Either bind the service to 127.0.0.1 (or a private address), drop its port in the firewall, or, if it is meant to be public, add it to `firewall.allowed_ports` in /etc/vigie/vigie.yaml (e.g. `[\"443/tcp\"]`).",
		References: []checks.Reference{denyByDefault, networkDuty, {Source: "CIS Debian Linux 12 Benchmark v1.1.0", Section: "2.1.22", Text: "Ensure only approved services are listening on a network interface"}, {Source: "ANSSI-BP-028 v2.0", Section: "R80", Text: "Minimization of network services"}},
		Image:      checks.LiveOnly("the sockets that listen are those of running processes, and the ones on this machine are not the image's; the ruleset the image loads at boot is judged from its files by firewall.persistent"),
	}, Eval: exposedRule},
	{Meta: checks.Meta{
		ID: IDLegacy, Title: "No legacy iptables rules hide from nftables", Severity: checks.Medium,
		Rationale:  "Rules loaded through the legacy x_tables interface (iptables-legacy) are enforced by the kernel but invisible to `nft list ruleset` and to every check that reads nftables: they can open or close traffic behind the operator's back.",
		ManualFix:  "List them with `iptables-legacy-save` and `ip6tables-legacy-save`, move what you need into nftables (`iptables-restore-translate`), then flush them (`iptables-legacy -F; iptables-legacy -X`, same for ip6tables) and make sure nothing reloads them (netfilter-persistent, docker with iptables=legacy).",
		References: []checks.Reference{denyByDefault, {Source: "CIS Debian Linux 12 Benchmark v1.1.0", Section: "4.3.3", Text: "Ensure iptables are flushed with nftables"}},
		Image:      checks.LiveOnly("legacy iptables rules live in the running kernel, and the kernel this machine runs is not the image's"),
	}, Eval: legacyRule},
}

// New returns the firewall area with its options.
func New(opt Options) checks.Area {
	return &checks.RuleArea[*Facts]{
		AreaName: "firewall",
		Rules:    rules,
		Gather:   func(ctx context.Context, env *host.Env) *Facts { return Gather(ctx, env, opt) },
	}
}

// Evaluate applies the rules to facts gathered elsewhere.
func Evaluate(f *Facts) []checks.Finding { return checks.Evaluate(rules, f) }
