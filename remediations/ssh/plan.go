// Package ssh fixes the SSH area: a drop-in that sshd reads first, an
// ED25519 host key when there is none, the main file's Include and its
// other host keys, then sshd -t, a reload and the live probe again. It
// refuses to turn passwords off when that could lock every administrator
// out.
package ssh

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"

	"github.com/vigie-agent/vigie/host/accounts"

	xssh "golang.org/x/crypto/ssh"

	"github.com/vigie-agent/vigie/checks"
	sshcheck "github.com/vigie-agent/vigie/checks/ssh"
	"github.com/vigie-agent/vigie/remediations"
)

// Options say where sshd lives and how to make it reload.
type Options struct {
	Check   sshcheck.Options
	DropIn  string // the file that wins: /etc/ssh/sshd_config.d/00-vigie.conf
	HostKey string // /etc/ssh/ssh_host_ed25519_key
	// Force turns passwords off even when no administrator has an ED25519
	// key. The operator takes the lockout risk.
	Force bool
	// Reload makes sshd read its configuration again.
	Reload func(ctx context.Context) error
}

// hardening is what the drop-in sets, in the order written. Each line is
// tied to the check it fixes, so a refused step drops only its own lines.
var hardening = []struct {
	line   string
	lockin bool // could lock someone out: needs an administrator with an ED25519 key
}{
	{"PasswordAuthentication no", true},
	{"KbdInteractiveAuthentication no", true},
	{"PermitRootLogin prohibit-password", true},
	{"PubkeyAcceptedAlgorithms ssh-ed25519,ssh-ed25519-cert-v01@openssh.com,sk-ssh-ed25519@openssh.com,sk-ssh-ed25519-cert-v01@openssh.com", true},
	{"HostKeyAlgorithms ssh-ed25519,ssh-ed25519-cert-v01@openssh.com", false},
	{"Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr", false},
	{"MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com", false},
	{"KexAlgorithms " + kexHardened, false},
}

// strongKex are the key exchanges the drop-in may keep, best first: the
// hybrid post-quantum ones (ML-KEM with X25519, OpenSSH 10's first choice;
// Streamlined NTRU Prime with X25519 under both its names), X25519 alone,
// and the 4096- and 8192-bit MODP groups.
var strongKex = []string{
	"mlkem768x25519-sha256", "sntrup761x25519-sha512", "sntrup761x25519-sha512@openssh.com",
	"curve25519-sha256", "curve25519-sha256@libssh.org",
	"diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512",
}

// kexHardened is the drop-in's list when the server offers none of
// strongKex: the strong key exchanges every OpenSSH since 8.5 knows.
const kexHardened = "sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512"

// kexAlgorithms is the drop-in's KexAlgorithms value: of the key exchanges
// the server offers now (its effective configuration), the strong ones, in
// strongKex's order. So it never names one sshd does not know (sshd -t
// would refuse the file), never turns on one the server has off (OpenSSH
// 10 offers no MODP group by default), and keeps ML-KEM where the server
// has it. On Debian 12's OpenSSH 9.2 it is kexHardened, after the NTRU
// Prime hybrid's standard name, which Debian's 9.2 knows too.
func kexAlgorithms(current sshcheck.Settings) string {
	offered := current.List("kexalgorithms")
	var out []string
	for _, k := range strongKex {
		if slices.Contains(offered, k) {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return kexHardened
	}
	return strings.Join(out, ",")
}

// BuildPlan decides the changes from the SSH facts.
func BuildPlan(ctx context.Context, env *host.Env, f *sshcheck.Facts, opt Options) (*remediations.Plan, error) {
	p := &remediations.Plan{Area: "ssh"}
	if !f.Installed {
		p.Refusals = append(p.Refusals, "OpenSSH server is not installed: nothing to fix")
		return p, nil
	}
	if f.Files == nil {
		return nil, fmt.Errorf("cannot read %s: %s", opt.Check.ConfigPath, f.FilesErr)
	}
	admins, why := adminsWithED25519(f)
	allowLockin := len(admins) > 0 || opt.Force
	if !allowLockin {
		p.Refusals = append(p.Refusals, "password login, root password login and non-ED25519 keys stay allowed: "+why+
			". Add an ED25519 key to an account that can sudo (or root), or run with --force")
	}
	var b strings.Builder
	b.WriteString("# Written by vigie fix: sshd keeps the first value it reads, and this file\n# sorts first in sshd_config.d. Remove it and reload sshd to undo by hand.\n")
	for _, h := range hardening {
		if h.lockin && !allowLockin {
			continue
		}
		line := h.line
		if strings.HasPrefix(line, "KexAlgorithms ") {
			line = "KexAlgorithms " + kexAlgorithms(f.Global)
		}
		b.WriteString(line + "\n")
	}
	b.WriteString("HostKey " + opt.HostKey + "\n")
	p.Files = append(p.Files, remediations.FileChange{Path: env.Path(opt.DropIn), Content: []byte(b.String()), Mode: 0o644,
		Why: "settings that win over the main file and cloud-init's drop-in"})

	if !hasED25519HostKey(ctx, env, f, opt.HostKey) {
		priv, pub, err := newHostKey()
		if err != nil {
			return nil, err
		}
		p.Files = append(p.Files,
			remediations.FileChange{Path: env.Path(opt.HostKey), Content: priv, Mode: 0o600, Why: "a new ED25519 host key"},
			remediations.FileChange{Path: env.Path(opt.HostKey + ".pub"), Content: pub, Mode: 0o644, Why: "its public half"})
	}

	// The main file and other drop-ins: make sure the drop-in is read,
	// and comment out host keys that are not ED25519.
	for _, file := range f.Files.Files {
		data, err := env.ReadFile(ctx, file, hostfs.Config)
		if err != nil {
			return nil, fmt.Errorf("read %w", err)
		}
		out := disableHostKeys(data, f)
		if file == opt.Check.ConfigPath && !includesDropIn(data, opt) {
			out = append([]byte("# Added by vigie fix: read the drop-ins first, they win.\nInclude "+filepath.Dir(opt.DropIn)+"/*.conf\n"), out...)
		}
		if !bytes.Equal(out, data) {
			p.Files = append(p.Files, remediations.FileChange{Path: env.Path(file), Content: out, Why: "host keys other than ED25519 commented out, Include of the drop-ins"})
		}
	}
	var changed []remediations.FileChange
	for _, fc := range p.Files {
		if remediations.Changed(fc) {
			changed = append(changed, fc)
		}
	}
	p.Files = changed
	p.Validate = func(ctx context.Context) error {
		out, err := env.Cmd.Run(ctx, opt.Check.SshdPath, "-t", "-f", opt.Check.ConfigPath)
		if err != nil {
			return fmt.Errorf("sshd -t refuses the new configuration: %w %s", err, out)
		}
		return nil
	}
	p.Activate = opt.Reload
	p.Verify = func(ctx context.Context) error { return verify(ctx, env, opt, allowLockin) }
	return p, nil
}

// verify runs the SSH checks again; the checks a refusal kept from fixing
// are not expected to pass.
func verify(ctx context.Context, env *host.Env, opt Options, allowLockin bool) error {
	expected := map[string]bool{sshcheck.IDHostKeys: true, sshcheck.IDCrypto: true, sshcheck.IDLiveProbe: allowLockin,
		sshcheck.IDPasswordAuth: allowLockin, sshcheck.IDRootLogin: allowLockin, sshcheck.IDPubkeyAlgs: allowLockin}
	var bad []string
	for _, fi := range sshcheck.Evaluate(sshcheck.Gather(ctx, env, opt.Check)) {
		if expected[fi.ID] && fi.Status != checks.Pass && fi.Status != checks.Skip {
			bad = append(bad, fi.ID+": "+fi.Reason)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

// adminsWithED25519 lists the accounts that could still log in and
// administer the host after passwords are off: root, or a member of sudo
// or wheel, with an ED25519 key in an authorized_keys file.
func adminsWithED25519(f *sshcheck.Facts) ([]string, string) {
	sudoers := groupMembers(f.Groups, "sudo", "wheel", "admin")
	var out []string
	for _, kf := range f.KeyFiles {
		admin := kf.Account == "root" || sudoers[kf.Account]
		if !admin || kf.Err != "" || kf.Ignored != "" || len(kf.Problems) > 0 {
			continue
		}
		for _, k := range kf.Keys.Entries {
			if k.Err == "" && sshcheck.IsED25519(k.Type) {
				out = append(out, kf.Account)
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, "no account that can log in and administer the host (root, or a member of sudo/wheel) has a usable ED25519 key in its authorized_keys"
	}
	return out, ""
}

func groupMembers(all []accounts.Group, groups ...string) map[string]bool {
	want := map[string]bool{}
	for _, g := range groups {
		want[g] = true
	}
	out := map[string]bool{}
	for _, g := range all {
		if want[g.Name] {
			for _, m := range g.Members {
				out[m] = true
			}
		}
	}
	return out
}

func hasED25519HostKey(ctx context.Context, env *host.Env, f *sshcheck.Facts, path string) bool {
	for _, hk := range f.HostKeys {
		if hk.Path == path && hk.Err == "" && sshcheck.IsED25519(hk.Type) {
			return true
		}
	}
	if env.FS().Exists(ctx, path) {
		return true // present but not configured: the drop-in configures it
	}
	return false
}

// includesDropIn reports whether the main file has an Include reading the
// drop-in's directory (absolute, or relative to /etc/ssh as sshd resolves it).
func includesDropIn(main []byte, opt Options) bool {
	want := filepath.Dir(opt.DropIn)
	for _, l := range strings.Split(string(main), "\n") {
		fields := strings.Fields(l)
		if len(fields) < 2 || !strings.EqualFold(fields[0], "Include") {
			continue
		}
		for _, pat := range fields[1:] {
			if !filepath.IsAbs(pat) {
				pat = filepath.Join("/etc/ssh", pat)
			}
			if filepath.Dir(pat) == want {
				return true
			}
		}
	}
	return false
}

// disableHostKeys comments out HostKey lines whose key is not ED25519.
func disableHostKeys(data []byte, f *sshcheck.Facts) []byte {
	weak := map[string]bool{}
	for _, hk := range f.HostKeys {
		if !sshcheck.IsED25519(hk.Type) {
			weak[hk.Path] = true
		}
	}
	if len(weak) == 0 {
		return data
	}
	lines := strings.SplitAfter(string(data), "\n")
	for i, l := range lines {
		fields := strings.Fields(l)
		if len(fields) == 2 && strings.EqualFold(fields[0], "HostKey") && weak[fields[1]] {
			lines[i] = "# Disabled by vigie fix (not ED25519): " + l
		}
	}
	return []byte(strings.Join(lines, ""))
}

func newHostKey() ([]byte, []byte, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	block, err := xssh.MarshalPrivateKey(priv, "vigie")
	if err != nil {
		return nil, nil, err
	}
	pk, err := xssh.NewPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(block), xssh.MarshalAuthorizedKey(pk), nil
}
