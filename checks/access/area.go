// Package access checks who may act on the instance: accounts with UID 0,
// accounts without a password, sudo rules that ask for none, and accounts
// that can only log in with SSH keys. It reads /etc/passwd, /etc/shadow,
// /etc/group, the sudoers files and authorized_keys files under the
// inspected root.
package access

import (
	"context"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
)

// The benchmark the access checks have equivalents in, with the version
// whose numbering they cite.
const cisDebian12 = "CIS Debian Linux 12 Benchmark v1.1.0"

var iamDuty = checks.Seed(checks.SectionCustomer,
	"Gestion des identités et des accès (IAM) : configuration des autorisations, des rôles, des clés SSH, de l'authentification multifactorielle (MFA) et du principe du moindre privilège pour accéder à vos ressources.")

var guestDuty = checks.Seed(checks.SectionAccess,
	"Il vous appartient donc d'assurer la sécurité de votre machine virtuelle et de vos données.")

var keysNotPasswords = checks.Seed(checks.SectionBestPractices,
	"d'utiliser une clé SSH ED25519 pour accéder à votre machine, plutôt que l'authentification par nom d'utilisateur et mot de passe")

var sshKeysDuty = checks.Seed(checks.SectionTransit,
	"Vous restez responsable de la configuration des clés SSH.")

var providerPrivileges = checks.Reference{Source: checks.ProviderMeasures, Section: "System security",
	Text: "Privileged rights are restricted and their uses traced."}

var providerAuth = checks.Reference{Source: checks.ProviderMeasures, Section: "Secure authentication",
	Text: "Strong authentication with a second factor (2FA) for privileged accounts"}

var rules = []checks.Rule[*Facts]{
	{Meta: checks.Meta{
		ID: IDUID0, Title: "Only root has UID 0", Severity: checks.High,
		Rationale:  "The kernel grants every privilege to UID 0, whatever the account is called. A second UID 0 account is a root login that escapes every control written for \"root\" (PermitRootLogin, sudo logs naming the user, audit rules on auid), and a classic backdoor. The seed puts least privilege inside the guest on the customer.",
		ManualFix:  "Find the entries with `awk -F: '$3 == 0' /etc/passwd`. If the account is needed, give it its own UID (`usermod -u NEWUID NAME`, then fix file ownership with `find / -xdev -uid 0 -user NAME`); otherwise remove it (`userdel NAME`). Grant administration through sudo instead.",
		References: []checks.Reference{iamDuty, providerPrivileges, {Source: cisDebian12, Section: "5.4.2.1", Text: "Ensure root is the only UID 0 account"}},
		Image:      checks.FromFiles("the image's /etc/passwd"),
	}, Eval: uid0Rule},
	{Meta: checks.Meta{
		ID: IDEmptyPasswords, Title: "No account has an empty password", Severity: checks.High,
		Rationale:  "An empty password field lets anyone who reaches a login prompt (the serial console, su, a PAM service with nullok) in without a password. An account whose passwd entry says \"x\" but has no shadow entry is inconsistent (pwck reports it) and its state depends on which tool reads it. vigie reads /etc/shadow, which needs root: without it the check is an error, never a pass.",
		ManualFix:  "Lock the account (`passwd -l NAME`, or `usermod -L NAME`) or give it a password (`passwd NAME`). For an entry missing from /etc/shadow run `pwconv` (creates the shadow entries) and then lock or set the password; `pwck -r` lists the inconsistencies.",
		References: []checks.Reference{iamDuty, guestDuty, {Source: cisDebian12, Section: "7.2.2", Text: "Ensure /etc/shadow password fields are not empty"}},
		Image:      checks.FromFiles("the image's /etc/passwd and /etc/shadow"),
	}, Eval: emptyPasswordsRule},
	{Meta: checks.Meta{
		ID: IDSudoNoPasswd, Title: "sudo asks for a password", Severity: checks.Medium,
		Rationale:  "A NOPASSWD rule turns a stolen SSH key or a compromised process running as that user into root at once, with no second factor in between. Cloud images create the default user with `ALL=(ALL) NOPASSWD:ALL` (cloud-init writes it to /etc/sudoers.d/90-cloud-init-users) because that user has no password; vigie still reports it, with where it comes from. vigie reads /etc/sudoers and every file it includes, in sudo's order, expands User_Alias and Cmnd_Alias, and follows tags from one command to the next as sudo does.",
		ManualFix:  "Give the user a password (`passwd NAME`) and remove NOPASSWD from the rule with `visudo -f FILE` (for cloud-init's rule: /etc/sudoers.d/90-cloud-init-users, and set `sudo: ALL=(ALL) ALL` for the user in the cloud-init user-data so a rebuild does not bring it back). Where a service account needs one command without a password, limit the rule to that exact command with its arguments. A `Defaults !authenticate` line (for everyone, or `Defaults:USER`) has the same effect as NOPASSWD on every rule it reaches: remove it.",
		References: []checks.Reference{iamDuty, providerAuth, {Source: cisDebian12, Section: "5.2.4", Text: "Ensure users must provide password for privilege escalation"}},
		Image:      checks.FromFiles("the image's /etc/sudoers and every file it includes, with the image's /etc/hostname for %h"),
	}, Eval: sudoNoPasswdRule},
	{Meta: checks.Meta{
		ID: IDKeyOnly, Title: "Accounts that log in with SSH keys only", Severity: checks.Info,
		Rationale:  "An account with a login shell, a locked password and an authorized_keys file can only be reached with an SSH key: what the seed recommends instead of passwords. The list is information for whoever reviews access (who holds keys to the instance); each entry cites the line that locks the password.",
		ManualFix:  "Nothing to fix. Review the listed accounts and their authorized_keys files; remove keys and accounts nobody uses (`userdel -r NAME`).",
		References: []checks.Reference{keysNotPasswords, sshKeysDuty},
		Image:      checks.FromFiles("the image's /etc/passwd, /etc/shadow and the accounts' authorized_keys files in the image"),
	}, Eval: keyOnlyRule},
}

// New returns the access area with its options.
func New(opt Options) checks.Area {
	return &checks.RuleArea[*Facts]{
		AreaName: "access",
		Rules:    rules,
		Gather:   func(ctx context.Context, env *host.Env) *Facts { return Gather(ctx, env, opt) },
	}
}

// Evaluate applies the rules to facts gathered elsewhere.
func Evaluate(f *Facts) []checks.Finding { return checks.Evaluate(rules, f) }
