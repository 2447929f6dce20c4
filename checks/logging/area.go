// Package logging checks that the instance keeps trustworthy logs:
// journald stores them on disk, the audit daemon records what privileged
// users do, and the clock is synchronised so that timestamps mean
// something. It reads journald's configuration under the inspected root,
// unit states through systemd (on the running system) or unit files, the
// process table, and the kernel's clock discipline (adjtimex).
package logging

import (
	"context"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
)

// Benchmarks with equivalent controls, with the versions whose numbering
// is cited.
const (
	cisDebian12 = "CIS Debian Linux 12 Benchmark v1.1.0"
	anssiBP028  = "ANSSI-BP-028 v2.0"
)

var appLogsDuty = checks.Seed(checks.SectionCustomer,
	"Sécurité des applications : protection de vos applications contre les vulnérabilités, gestion des dépendances et surveillance des journaux d'application.")

var hdsAuditTrail = checks.Seed("Exigences de conformité HDS",
	"Utiliser Audit Trail à des fins de provisionnement des journaux.")

var providerMonitoring = checks.Reference{Source: checks.ProviderMeasures, Section: "Monitoring of services and infrastructures",
	Text: "Scaleway does not have access to the data hosted by its customers who are responsible for monitoring and implementing appropriate detection systems"}

var providerTracing = checks.Reference{Source: checks.ProviderMeasures, Section: "System security",
	Text: "Privileged rights are restricted and their uses traced."}

var rules = []checks.Rule[*Facts]{
	{Meta: checks.Meta{
		ID: IDJournaldPersistent, Title: "journald keeps logs across reboots", Severity: checks.Medium,
		Rationale:  "With volatile storage journald keeps logs in /run, in memory: a reboot, a crash or a kernel panic, the very events an investigation starts from, erase them. Storage=auto (the default) writes to disk only if /var/log/journal exists, which minimal and container-derived images often lack. The provider cannot see inside the guest, so these logs are the only record of what happened there. vigie reads journald.conf and its drop-ins in journald's own order and cites the file and line that set the effective value.",
		ManualFix:  "`mkdir -p /etc/systemd/journald.conf.d && printf '[Journal]\\nStorage=persistent\\n' > /etc/systemd/journald.conf.d/60-vigie-persistent.conf && systemctl restart systemd-journald` (journald creates /var/log/journal and moves the runtime journal there; `journalctl --flush` forces it). Remove any drop-in that sets Storage=volatile or none.",
		References: []checks.Reference{appLogsDuty, providerMonitoring, {Source: cisDebian12, Section: "6.1.2.4", Text: "Ensure journald Storage is configured"}, {Source: anssiBP028, Section: "R71", Text: "Implement a logging system"}},
		Image:      checks.FromFiles("the image's journald.conf and its drop-ins, in journald's order, and whether the image holds /var/log/journal"),
	}, Eval: journaldRule},
	{Meta: checks.Meta{
		ID: IDAudit, Title: "The audit daemon runs", Severity: checks.Low,
		Rationale:  "auditd records what the kernel's audit rules select: logins, privilege changes, changes to accounts and to sudoers, use of privileged commands, attributed to the user who logged in even after sudo. Without it, what an administrator (or an intruder with their key) did as root leaves no trustworthy trace. The HDS requirements ask for Audit Trail, which records actions on the provider's API only; inside the guest the audit daemon is its counterpart. The hds profile raises this check's severity.",
		ManualFix:  "`apt-get install auditd` (Debian/Ubuntu) or `dnf install audit` (RHEL family), then `systemctl enable --now auditd`. Add rules for what must be traced (e.g. the rules shipped in /usr/share/doc/auditd/examples/rules/) to /etc/audit/rules.d/ and load them with `augenrules --load`.",
		References: []checks.Reference{hdsAuditTrail, providerTracing, {Source: cisDebian12, Section: "6.2.1.2", Text: "Ensure auditd service is enabled and active"}, {Source: anssiBP028, Section: "R73", Text: "Logging activity by auditd"}},
		Image:      checks.FromFiles("whether the image enables auditd.service (its /etc/systemd symlinks): enabled, auditd starts at every boot of an instance made from the image"),
	}, Eval: auditRule},
	{Meta: checks.Meta{
		ID: IDTimeSync, Title: "The clock is synchronised", Severity: checks.Medium,
		Rationale:  "Logs without a trustworthy time are worthless: events cannot be ordered, correlated with other hosts or the provider's records, or used as evidence. vigie looks for a running synchronisation daemon (systemd-timesyncd, chrony, ntpd/ntpsec/OpenNTPD: unit active or process present) and, on the running system, asks the kernel whether its clock is disciplined (adjtimex maximum error below 16 s, the test timedatectl uses). Two daemons at once fight over the clock.",
		ManualFix:  "Debian/Ubuntu: `apt-get install systemd-timesyncd` (or chrony) and `timedatectl set-ntp true`; RHEL family: `dnf install chrony && systemctl enable --now chronyd`. Keep exactly one daemon. Check with `timedatectl` (System clock synchronized: yes), `timedatectl timesync-status` or `chronyc tracking`; an unsynchronised clock with a daemon running usually means no time server is reachable (outbound UDP 123 filtered).",
		References: []checks.Reference{appLogsDuty, providerMonitoring, {Source: cisDebian12, Section: "2.3.1.1", Text: "Ensure a single time synchronization daemon is in use"}},
		Image:      checks.FromFiles("which time synchronisation daemons the image enables at boot (its /etc/systemd symlinks): exactly one must be; whether it reaches a time server, and the kernel's clock, show only on a running instance"),
	}, Eval: timeSyncRule},
}

// New returns the logging area with its options.
func New(opt Options) checks.Area {
	return &checks.RuleArea[*Facts]{
		AreaName: "logging",
		Rules:    rules,
		Gather:   func(ctx context.Context, env *host.Env) *Facts { return Gather(ctx, env, opt) },
	}
}

// Evaluate applies the rules to facts gathered elsewhere.
func Evaluate(f *Facts) []checks.Finding { return checks.Evaluate(rules, f) }
