package patches

import (
	"context"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
)

var updateDuty = checks.Seed(checks.SectionBestPractices,
	"mettre régulièrement à jour le système d'exploitation afin de bénéficier des mises à jour de configuration et des correctifs de sécurité")

var instanceDuty = checks.Seed(checks.SectionCustomer,
	"Gestion des instances : configuration du système d'exploitation, applications, middleware, correctifs et mises à jour logicielles pour vos instances.")

var versionsDuty = checks.Seed("Mises à jour et gestion des versions",
	"Il est de votre responsabilité de mettre à jour votre machine vers la version souhaitée")

var rules = []checks.Rule[*Facts]{
	{Meta: checks.Meta{
		ID: IDSecurityPending, Title: "No security update is pending", Severity: checks.High, Remediation: &checks.Remediation{ID: "patches", Destructive: false},
		Rationale:  "Once a fix is published, the vulnerability it fixes is public too. The provider patches its hypervisors; inside the guest, applying the distribution's security updates is the customer's duty. vigie asks the package manager itself (apt list --upgradable, dnf updateinfo, zypper list-patches), so pins, holds and priorities count as they do for you; on apt, an update is a security update when one of the archives it comes from ends in -security. An index too old to trust makes \"nothing pending\" an error, not a pass.",
		ManualFix:  "Debian/Ubuntu: `apt-get update && apt-get install --only-upgrade $(the listed packages)`, or `unattended-upgrade -v`. RHEL family: `dnf upgrade --security`. SUSE: `zypper patch --category security`. Then check patches.reboot-required.",
		References: []checks.Reference{updateDuty, instanceDuty, {Source: "CIS Debian Linux 12 Benchmark v1.1.0", Section: "1.2.2.1", Text: "Ensure updates, patches, and additional security software are installed"}, {Source: "ANSSI-BP-028 v2.0", Section: "R61", Text: "Regular updates"}},
		Image:      pendingFromFiles,
	}, Eval: pendingRule(isSecurity, "security updates")},
	{Meta: checks.Meta{
		ID: IDPending, Title: "No update is pending", Severity: checks.Low,
		Rationale:  "Bug fixes and point releases that are not flagged as security still fix crashes and data loss, and the longer they wait, the larger and riskier the next upgrade.",
		ManualFix:  "`apt-get update && apt-get upgrade` (Debian/Ubuntu), `dnf upgrade` (RHEL family), `zypper update` (SUSE), in a maintenance window.",
		References: []checks.Reference{updateDuty, {Source: "CIS Debian Linux 12 Benchmark v1.1.0", Section: "1.2.2.1", Text: "Ensure updates, patches, and additional security software are installed"}},
		Image:      pendingFromFiles,
	}, Eval: pendingRule(isPackage, "updates")},
	{Meta: checks.Meta{
		ID: IDReboot, Title: "No reboot is pending", Severity: checks.Medium,
		Rationale:  "An updated kernel, libc or OpenSSL fixes nothing until the processes using the old one restart; for the kernel that means a reboot. vigie compares the running kernel with the newest in /boot, and reads the distribution's own flag (/run/reboot-required on Debian and Ubuntu, dnf needs-restarting -r on RHEL).",
		ManualFix:  "Reboot in a maintenance window (`systemctl reboot`), then check that `uname -r` is the newest installed kernel.",
		References: []checks.Reference{updateDuty},
		Image:      checks.LiveOnly("a reboot is pending when the running kernel is older than the newest installed, and no kernel of the image runs (the one this machine runs is its own); the image's packages are judged by patches.security-pending and patches.pending"),
	}, Eval: rebootRule},
	{Meta: checks.Meta{
		ID: IDAutoUpdates, Title: "Security updates install automatically", Severity: checks.Medium, Remediation: &checks.Remediation{ID: "patches", Destructive: false},
		Rationale:  "Regular updates done by hand stop the first busy week. Unattended-upgrades (Debian, Ubuntu) or dnf-automatic (RHEL family), limited to security updates, keeps the window between a fix and its installation to a day.",
		ManualFix:  "Debian/Ubuntu: `apt-get install unattended-upgrades && dpkg-reconfigure -plow unattended-upgrades` (writes APT::Periodic::Unattended-Upgrade \"1\" to /etc/apt/apt.conf.d/20auto-upgrades; the default origins include -security). RHEL: `dnf install dnf-automatic`, set `upgrade_type = security` and `apply_updates = yes` in /etc/dnf/automatic.conf, `systemctl enable --now dnf-automatic.timer`.",
		References: []checks.Reference{updateDuty, {Source: "ANSSI-BP-028 v2.0", Section: "R61", Text: "Regular updates"}},
		Image:      checks.FromFiles("the image's apt configuration (apt-config dump of this machine's apt, pointed at the image's files alone) or dnf-automatic's configuration, and the timers the image enables at boot (its /etc/systemd symlinks)"),
	}, Eval: autoRule},
	{Meta: checks.Meta{
		ID: IDIndexFresh, Title: "The package index is recent enough to trust", Severity: checks.Medium,
		Rationale:  "The package manager only knows the updates published before its last refresh: with an index a month old, \"nothing pending\" means nothing. Each source is judged on its own, so one list refreshed today does not hide a security list a week old: on apt the security archives (a Release file whose Label or Origin is Debian-Security, or whose suite ends in -security, as Ubuntu's pockets do), on dnf and zypper every enabled repository; the oldest counts and is named, and an apt host with no security archive fails. vigie never refreshes it itself unless patches.refresh is set, so a check does not touch the network.",
		ManualFix:  "Refresh it (`apt-get update`, `dnf makecache`, `zypper refresh`) and make sure the timer that does it daily runs (apt-daily.timer, dnf-makecache.timer).",
		References: []checks.Reference{updateDuty},
		Image:      checks.FromFiles("the Release files (apt) or repository metadata (dnf, zypper) the image holds and when they were fetched; an image whose build removed its lists holds no index, and cannot vouch for nothing pending"),
	}, Eval: indexRule},
	{Meta: checks.Meta{
		ID: IDOSSupported, Title: "The OS release still receives security updates", Severity: checks.High,
		Rationale:  "A release past its end of life gets no security fix at all, so every other patch check passes while the host grows more vulnerable. The dates come from a table in vigie naming each distribution's published lifecycle; paid extensions (ELTS, ESM, ELS) are not counted.",
		ManualFix:  "Upgrade to a supported release (Debian: follow the release notes' upgrade chapter; Ubuntu: `do-release-upgrade`; RHEL family: leapp), or rebuild the instance from a current image.",
		References: []checks.Reference{versionsDuty, instanceDuty},
		Image:      checks.FromFiles("the image's /etc/os-release"),
	}, Eval: osRule},
}

// pendingFromFiles is how the pending checks answer on an image: from the
// index the image holds, offline.
var pendingFromFiles = checks.FromFiles("this machine's package manager pointed at the image's files alone (apt through an APT_CONFIG whose RootDir is the image, dnf --installroot, zypper --root), from the package index the image holds, offline: an image's index is never refreshed, whatever the configuration says")

// New returns the patches area with its options.
func New(opt Options) checks.Area {
	return &checks.RuleArea[*Facts]{
		AreaName: "patches",
		Rules:    rules,
		Gather:   func(ctx context.Context, env *host.Env) *Facts { return Gather(ctx, env, opt) },
	}
}

// Evaluate applies the rules to facts gathered elsewhere.
func Evaluate(f *Facts) []checks.Finding { return checks.Evaluate(rules, f) }
