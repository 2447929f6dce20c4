package ssh

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/scaleway"
	"github.com/vigie-agent/vigie/internal/printable"

	xssh "golang.org/x/crypto/ssh"
)

// IDProviderKeys is the check of the SSH keys the provider's metadata
// installs on the instance.
const IDProviderKeys = "ssh.provider-keys"

// maxProviderKeys bounds the keys judged one by one; the rest are counted.
const maxProviderKeys = 64

// Bounds of the provider's text quoted in findings.
const (
	maxQuoted  = 80
	maxComment = 64
)

// Installers of the provider's keys, as far as the files tell.
const (
	scwFetchSSHKeys = "/usr/local/sbin/scw-fetch-ssh-keys"
	cloudInitCfg    = "/etc/cloud/cloud.cfg"
)

var providerKeysRule = checks.Rule[*Facts]{Meta: checks.Meta{
	ID: IDProviderKeys, Title: "The SSH keys the provider installs at boot are ED25519", Severity: checks.High,
	Rationale: "On Scaleway the project's SSH keys (the metadata's ssh_public_keys) and the server's AUTHORIZED_KEY tags are installed by the image, not by the operator: cloud-init adds them on the first boot of every instance made from this one, and scw-fetch-ssh-keys, on images that ship it, rewrites root's authorized_keys from them at every boot. " +
		"An RSA or ECDSA key there comes back after any clean-up of authorized_keys, so the seed's ED25519-only practice holds only if the keys kept in the console are ED25519. vigie reads the keys from the metadata API, as cloud-init derives them (a tag's underscores are spaces), and names each by its SHA256 fingerprint and comment.",
	ManualFix: "The keys live in the console, not on the instance. A project key: delete it from the project's SSH keys page (Console > Project > SSH keys) or with `scw iam ssh-key list` then `scw iam ssh-key delete SSH-KEY-ID`, after adding an ED25519 key (`ssh-keygen -t ed25519`, `scw iam ssh-key create public-key=\"$(cat ~/.ssh/id_ed25519.pub)\"`). " +
		"A tag: set the server's tags without the AUTHORIZED_KEY=... entry, `scw instance server update SERVER-ID tags.0=KEEP-TAG ...` (the list given replaces the old one; `scw instance server get SERVER-ID` shows it). Then remove the key from authorized_keys on the instance (`ssh.authorized-keys` names the file and line).",
	References: []checks.Reference{bestPractice, transit, iamDuty},
	Image:      checks.LiveOnly("the provider's keys are those of each instance's project and tags, which only a running instance's metadata API tells, and the metadata API this machine reaches is its own; the keys the image holds are judged by ssh.authorized-keys"),
}, Eval: providerKeys}

var iamDuty = checks.Seed(checks.SectionCustomer,
	"Gestion des identités et des accès (IAM) : configuration des autorisations, des rôles, des clés SSH, de l'authentification multifactorielle (MFA) et du principe du moindre privilège pour accéder à vos ressources.")

// ProviderKey is one SSH key the metadata installs at boot, judged.
type ProviderKey struct {
	Origin      string // scaleway.OriginProjectKey or scaleway.OriginTag
	Index       int    // position in ssh_public_keys or tags
	ID, Name    string // the project key's id and description, if any
	Type        string // key algorithm; "" when it does not parse
	Fingerprint string // SHA256:...
	Comment     string
	// Err says why the entry is no key; Quoted is then its text as the
	// metadata holds it, escaped and bounded.
	Err    string
	Quoted string
}

// OK reports whether the key is one of the ED25519 family.
func (k ProviderKey) OK() bool { return k.Err == "" && IsED25519(k.Type) }

// Where names the entry as the console and the metadata show it.
func (k ProviderKey) Where() string {
	if k.Origin == scaleway.OriginTag {
		return fmt.Sprintf("server tag AUTHORIZED_KEY (tags[%d])", k.Index)
	}
	w := fmt.Sprintf("project or account key ssh_public_keys[%d]", k.Index)
	var extra []string
	if k.Name != "" {
		extra = append(extra, `"`+printable.Line(k.Name, maxComment)+`"`)
	}
	if k.ID != "" {
		extra = append(extra, "id "+printable.Line(k.ID, maxComment))
	}
	if len(extra) > 0 {
		w += " (" + strings.Join(extra, ", ") + ")"
	}
	return w
}

// Describe names the key: type, fingerprint and comment, or why it is none.
func (k ProviderKey) Describe() string {
	if k.Err != "" {
		return fmt.Sprintf("%s: \"%s\"", k.Err, k.Quoted)
	}
	s := k.Type + " " + k.Fingerprint
	if k.Comment != "" {
		s += " " + printable.Line(k.Comment, maxComment)
	}
	return s
}

// ParseBootKey judges one key the metadata installs.
func ParseBootKey(b scaleway.BootKey) ProviderKey {
	k := ProviderKey{Origin: b.Origin, Index: b.Index, ID: b.ID, Name: b.Name}
	bad := func(why string) ProviderKey {
		k.Err, k.Quoted = why, printable.Line(b.Raw, maxQuoted)
		return k
	}
	switch {
	case b.Invalid != "":
		return bad(b.Invalid)
	case strings.TrimSpace(b.Line) == "":
		return bad("an empty key")
	case len(b.Line) > maxKeyLine:
		return bad("longer than sshd's 16 KiB limit for a key line")
	case strings.ContainsAny(strings.TrimSpace(b.Line), "\r\n"):
		return bad("a key of more than one line")
	}
	pk, comment, _, rest, err := xssh.ParseAuthorizedKey([]byte(b.Line))
	if err != nil || strings.TrimSpace(string(rest)) != "" {
		return bad("not a key x/crypto/ssh can read")
	}
	k.Type, k.Fingerprint, k.Comment = pk.Type(), xssh.FingerprintSHA256(pk), comment
	return k
}

// ProviderFacts are the keys the provider's metadata installs at boot, or
// why they are not known.
type ProviderFacts struct {
	Keys    []ProviderKey // the first maxProviderKeys
	Dropped int           // keys past those, not judged one by one
	Bad     int           // keys past those that are not ED25519
	// Installers names what on this image installs them, as far as its
	// files tell.
	Installers []string
	// NotApplicable says why the check does not apply (not a Scaleway
	// instance, no metadata client).
	NotApplicable string
	Err           string // the metadata API failed on a Scaleway instance
	// Read is true once the metadata was read: only then does an empty
	// list mean that nothing is installed.
	Read bool
}

// WithMetadata returns the options with the run's metadata client, which
// ssh.provider-keys and the ssh fix's plan read; nil never asks.
func (o Options) WithMetadata(md *scaleway.Client) Options {
	o.Metadata = md
	return o
}

// gatherProvider starts reading the provider's keys and returns what waits
// for them: the metadata API may take a moment while sshd -T runs.
func gatherProvider(ctx context.Context, env *host.Env, md *scaleway.Client) func() ProviderFacts {
	ch := make(chan ProviderFacts, 1)
	go func() { ch <- GatherProvider(ctx, env, md) }()
	return func() ProviderFacts { return <-ch }
}

// GatherProvider reads the keys the metadata installs at boot through the
// run's shared client, which sends nothing off Scaleway.
func GatherProvider(ctx context.Context, env *host.Env, md *scaleway.Client) ProviderFacts {
	if md == nil {
		return ProviderFacts{NotApplicable: "no metadata client configured: the keys the provider installs are read from the Scaleway instance metadata"}
	}
	m, err := md.Get(ctx, env)
	switch {
	case errors.Is(err, scaleway.ErrNotScaleway):
		return ProviderFacts{NotApplicable: err.Error()}
	case err != nil:
		return ProviderFacts{Err: err.Error()}
	}
	p := ProviderKeysOf(m)
	if env.FS().Exists(ctx, scwFetchSSHKeys) {
		p.Installers = append(p.Installers, scwFetchSSHKeys+" (root's authorized_keys, at every boot)")
	}
	if env.FS().Exists(ctx, cloudInitCfg) {
		p.Installers = append(p.Installers, "cloud-init (the default user's and root's authorized_keys, on the first boot of each instance)")
	}
	return p
}

// ProviderKeysOf judges every key the metadata installs at boot.
func ProviderKeysOf(m *scaleway.Metadata) ProviderFacts {
	var p ProviderFacts
	if m == nil {
		return p
	}
	p.Read = true
	for _, b := range m.BootKeys() {
		k := ParseBootKey(b)
		if len(p.Keys) < maxProviderKeys {
			p.Keys = append(p.Keys, k)
			continue
		}
		p.Dropped++
		if !k.OK() {
			p.Bad++
		}
	}
	return p
}

// Reinstalled returns the provider's keys that are not ED25519 and parse,
// by SHA256 fingerprint: the keys of an authorized_keys file that come
// back at boot whatever is removed.
func (p ProviderFacts) Reinstalled() map[string]ProviderKey {
	out := map[string]ProviderKey{}
	for _, k := range p.Keys {
		if k.Err == "" && !k.OK() {
			out[k.Fingerprint] = k
		}
	}
	return out
}

func providerKeys(f *Facts) checks.Result {
	p := f.Provider
	switch {
	case p.NotApplicable != "":
		return checks.Skipf("%s", p.NotApplicable)
	case p.Err != "":
		return checks.Errorf("the Scaleway metadata is unavailable, so the SSH keys it installs at boot are unknown: %s", p.Err)
	case !p.Read:
		return checks.Skipf("the instance metadata was not read")
	}
	src := "Scaleway metadata API"
	if len(p.Installers) > 0 {
		src += "; installed by " + strings.Join(p.Installers, " and ")
	}
	var ev []checks.Evidence
	var bad []string
	n := p.Bad
	for _, k := range p.Keys {
		ev = append(ev, checks.Evidence{Subject: k.Where(), Key: "key", Value: k.Describe(), Want: "ssh-ed25519 or sk-ssh-ed25519@openssh.com", Source: src, OK: k.OK()})
		if !k.OK() {
			n++
			bad = append(bad, k.Describe()+" from the "+k.Where())
		}
	}
	if p.Dropped > 0 {
		ev = append(ev, checks.Evidence{Key: "key", Value: fmt.Sprintf("%d more keys past the first %d, %d of them not ED25519", p.Dropped, len(p.Keys), p.Bad), Want: "ssh-ed25519", Source: src, OK: p.Bad == 0})
		if p.Bad > 0 {
			bad = append(bad, fmt.Sprintf("%d more keys not ED25519", p.Bad))
		}
	}
	total := len(p.Keys) + p.Dropped
	switch {
	case total == 0:
		return checks.Passf("the metadata lists no SSH key to install at boot (no ssh_public_keys, no AUTHORIZED_KEY tag)").With(ev...)
	case n > 0:
		return checks.Failf("%d of the %d SSH keys the metadata installs at boot are not ED25519 and come back after any clean-up, until removed in the console: %s", n, total, checks.Abridge(bad, 8, "; ")).With(ev...)
	}
	return checks.Passf("the %d SSH key(s) the metadata installs at boot are ED25519", total).With(ev...)
}
