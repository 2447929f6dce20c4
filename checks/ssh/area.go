// Package ssh checks that the OpenSSH server accepts only ED25519 public
// keys: no passwords, no other key types, no root password login. It reads
// the effective configuration from sshd itself, the keys on disk, and what
// the running server really offers to a client.
package ssh

import (
	"context"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
)

var bestPractice = checks.Seed(checks.SectionBestPractices,
	"d'utiliser une clé SSH ED25519 pour accéder à votre machine, plutôt que l'authentification par nom d'utilisateur et mot de passe")

var transit = checks.Seed(checks.SectionTransit,
	"Les instances prennent en charge les connexions SSH afin de sécuriser vos communications avec elles. Vous restez responsable de la configuration des clés SSH.")

var rules = []checks.Rule[*Facts]{
	{Meta: checks.Meta{
		ID: IDPasswordAuth, Title: "Password and keyboard-interactive authentication are off", Severity: checks.High, Remediation: &checks.Remediation{ID: "ssh", Destructive: false},
		Rationale:  "Passwords can be guessed, phished and reused; an Internet-facing sshd that accepts them is brute-forced within minutes. The seed asks for ED25519 keys instead of user name and password. Keyboard-interactive (ChallengeResponse) is how PAM asks for a password, so it must be off too.",
		ManualFix:  "Create /etc/ssh/sshd_config.d/00-hardening.conf (sshd keeps the first value it reads, so this file wins over 50-cloud-init.conf) with:\n  PasswordAuthentication no\n  KbdInteractiveAuthentication no\nCheck that every operator has an ED25519 key in authorized_keys, run `sshd -t`, then `systemctl reload ssh` (sshd on RHEL).",
		References: []checks.Reference{bestPractice},
		Image:      sshFiles,
	}, Eval: settingRule([]string{"passwordauthentication", "kbdinteractiveauthentication"}, passwordAuthOff, "no")},
	{Meta: checks.Meta{
		ID: IDRootLogin, Title: "root cannot log in with a password", Severity: checks.High, Remediation: &checks.Remediation{ID: "ssh", Destructive: false},
		Rationale:  "root is the one account name every attacker knows. Key-only root login (prohibit-password) keeps cloud-init's key-based access working while refusing every password guess.",
		ManualFix:  "Set `PermitRootLogin prohibit-password` (or `no`) in a drop-in that sorts first in /etc/ssh/sshd_config.d/, remove Match blocks that set it to yes, run `sshd -t`, reload sshd.",
		References: []checks.Reference{bestPractice, {Source: "CIS Debian Linux 12 Benchmark v1.1.0", Section: "5.1.20", Text: "Ensure sshd PermitRootLogin is disabled"}, {Source: "ANSSI-BP-028 v2.0", Section: "R33", Text: "Use of dedicated administration accounts"}},
		Image:      sshFiles,
	}, Eval: settingRule([]string{"permitrootlogin"}, rootLoginSafe, "no, prohibit-password or forced-commands-only")},
	{Meta: checks.Meta{
		ID: IDPubkeyAlgs, Title: "Only ED25519 user keys are accepted", Severity: checks.Medium, Remediation: &checks.Remediation{ID: "ssh", Destructive: false},
		Rationale:  "The seed recommends ED25519 keys. As long as sshd accepts RSA and ECDSA keys, a weak or old key left in some authorized_keys keeps working; limiting the accepted algorithms makes the policy hold on the server side.",
		ManualFix:  "Add `PubkeyAcceptedAlgorithms ssh-ed25519,ssh-ed25519-cert-v01@openssh.com,sk-ssh-ed25519@openssh.com,sk-ssh-ed25519-cert-v01@openssh.com` to the hardening drop-in, after giving every user an ED25519 key.",
		References: []checks.Reference{bestPractice},
		Image:      sshFiles,
	}, Eval: pubkeyAlgorithms},
	{Meta: checks.Meta{
		ID: IDHostKeys, Title: "Only ED25519 host keys are configured and present", Severity: checks.Medium, Remediation: &checks.Remediation{ID: "ssh", Destructive: false},
		Rationale:  "Every host key sshd loads is offered to clients; an RSA or ECDSA host key keeps weaker algorithms in every handshake and gives an attacker another key to target. One ED25519 host key is enough for every current client. Where no HostKey line is written, sshd tries its default paths (RSA, ECDSA, ED25519) and skips those without a file, as an image that generated only an ED25519 key leaves them: those are not findings; a key a HostKey line names and that is missing is, since sshd logs it as an error.",
		ManualFix:  "Generate a key if missing (`ssh-keygen -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key`), set `HostKey /etc/ssh/ssh_host_ed25519_key` as the only HostKey line, remove the other key files, run `sshd -t`, reload sshd. Clients that pinned the old keys will see the ED25519 one.",
		References: []checks.Reference{bestPractice, transit},
		Image:      checks.FromFiles("the HostKey lines of the image's sshd configuration and the key files the image holds; a key file the image does not hold (images leave them out so that every instance makes its own) counts as the type its name says (ssh_host_ed25519_key), which the first boot generates there"),
	}, Eval: hostKeys},
	{Meta: checks.Meta{
		ID: IDAuthorizedKeys, Title: "Every authorized key is ED25519 and its file is safe", Severity: checks.High,
		Rationale:  "authorized_keys files are the real list of who can log in. A leftover RSA or DSA key, or a file another user can write, is a way in that no sshd setting shows.",
		ManualFix:  "Replace each listed key with an ED25519 key (`ssh-keygen -t ed25519` on the client), remove the old line, and make the file and each directory above it up to the home owned by the account (or root) and not writable by group or others: `chmod 700 ~/.ssh; chmod 600 ~/.ssh/authorized_keys`.",
		References: []checks.Reference{bestPractice, transit},
		Image:      checks.FromFiles("the image's accounts (/etc/passwd) and the authorized_keys files the image's sshd configuration names, read under the image's root as sshd would read them"),
	}, Eval: authorizedKeys},
	{Meta: checks.Meta{
		ID: IDCrypto, Title: "No weak ciphers, MACs or key exchanges", Severity: checks.Medium, Remediation: &checks.Remediation{ID: "ssh", Destructive: false},
		Rationale:  "The seed makes encryption in transit the customer's duty. CBC and RC4 ciphers, SHA-1 and 64-bit MACs and SHA-1 or NIST-curve key exchanges are what a downgrade or long-term decryption needs.",
		ManualFix:  "In the hardening drop-in set\n  Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr\n  MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com\n  KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512\nthen `sshd -t` and reload.",
		References: []checks.Reference{transit, {Source: "CIS Debian Linux 12 Benchmark v1.1.0", Section: "5.1.6", Text: "Ensure sshd Ciphers are configured"}, {Source: "CIS Debian Linux 12 Benchmark v1.1.0", Section: "5.1.12", Text: "Ensure sshd KexAlgorithms is configured"}, {Source: "CIS Debian Linux 12 Benchmark v1.1.0", Section: "5.1.15", Text: "Ensure sshd MACs are configured"}},
		Image:      sshFiles,
	}, Eval: crypto},
	{Meta: checks.Meta{
		ID: IDLiveProbe, Title: "The running sshd offers only ED25519 host keys and publickey auth", Severity: checks.High, Remediation: &checks.Remediation{ID: "ssh", Destructive: false},
		Rationale:  "Configuration on disk is what sshd will do after its next reload; the running process is what an attacker meets now. vigie connects to each address sshd listens on (the socket unit's when ssh.socket or sshd.socket starts sshd, since sshd's ListenAddress then does not apply), as a client with no credentials, and records the host key algorithms and authentication methods the server really offers. A difference with the configuration means a change was written but never reloaded, or another sshd is running.",
		ManualFix:  "Fix the configuration (see the other ssh checks), check it with `sshd -t`, then `systemctl reload ssh` (sshd on RHEL). If another sshd instance answers, find it with `ss -tlnp`. Under socket activation (`systemctl status ssh.socket`), `systemctl cat ssh.socket` shows the addresses: with Accept=yes, or before the first connection, each new connection starts an sshd that reads the files afresh.",
		References: []checks.Reference{bestPractice},
		Image:      checks.LiveOnly("no sshd of this image runs, and the one this machine runs is not the image's; the image's sshd configuration is judged from its files by ssh.password-auth, ssh.root-login, ssh.pubkey-algorithms, ssh.host-keys and ssh.crypto"),
	}, Eval: liveProbe},
	providerKeysRule,
}

// sshFiles is how the settings checks answer on an image: from the files.
var sshFiles = checks.FromFiles("vigie's own reading of the image's sshd_config and of the files it includes, under the image's root, over OpenSSH's defaults; sshd -T is not run, since the build machine's sshd would read its own Include files and host keys")

// New returns the SSH area with its options.
func New(opt Options) checks.Area {
	return &checks.RuleArea[*Facts]{
		AreaName: "ssh",
		Rules:    rules,
		Gather:   func(ctx context.Context, env *host.Env) *Facts { return Gather(ctx, env, opt) },
		Finish: func(f *Facts, out []checks.Finding) []checks.Finding {
			if !f.Installed {
				return checks.SkipAll(checks.Metas(rules), "OpenSSH server is not installed (no "+opt.SshdPath+", no "+opt.ConfigPath+")")
			}
			if f.Source == "config files" && f.SourceNote != "" {
				for i := range out {
					if out[i].ID != IDLiveProbe && out[i].ID != IDProviderKeys && out[i].Status != checks.Error {
						out[i].Reason += " [read from the files: " + f.SourceNote + "]"
					}
				}
			}
			return out
		},
	}
}

// Evaluate applies the rules to facts gathered elsewhere (tests, fixtures).
func Evaluate(f *Facts) []checks.Finding { return checks.Evaluate(rules, f) }
