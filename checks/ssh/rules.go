package ssh

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vigie-agent/vigie/checks"
)

// Check ids of the SSH area.
const (
	IDPasswordAuth   = "ssh.password-auth"
	IDRootLogin      = "ssh.root-login"
	IDPubkeyAlgs     = "ssh.pubkey-algorithms"
	IDHostKeys       = "ssh.host-keys"
	IDAuthorizedKeys = "ssh.authorized-keys"
	IDCrypto         = "ssh.crypto"
	IDLiveProbe      = "ssh.live-probe"
)

// evidenceFor describes one effective setting, naming the file and line
// that decided it when sshd read it from a file.
func (f *Facts) evidenceFor(ctx Context, key, want string, ok bool) checks.Evidence {
	ev := checks.Evidence{Subject: ctx.Name, Key: key, Want: want, Source: f.Source, OK: ok}
	if v := ctx.Settings[key]; len(v) == 1 {
		ev.Value = v[0]
	} else {
		ev.Value = v
	}
	if ctx.Name != "global" {
		ev.Source = "sshd -T -C " + strings.TrimPrefix(ctx.Name, "user ")
		if d, found := f.matchDirective(key, ctx.Settings.Get(key)); found {
			ev.File, ev.Line = d.File, d.Line
		}
		return ev
	}
	if f.Files != nil {
		if d, found := f.Files.First(key); found {
			ev.File, ev.Line = d.File, d.Line
		}
	}
	return ev
}

// matchDirective finds a Match block directive that sets key to value.
func (f *Facts) matchDirective(key, value string) (Directive, bool) {
	if f.Files == nil {
		return Directive{}, false
	}
	for _, m := range f.Files.Matches {
		for _, d := range m.Directives {
			if d.Keyword == key && strings.EqualFold(d.Value(), value) {
				return d, true
			}
		}
	}
	return Directive{}, false
}

// contexts lists the global view then every per-account view.
func (f *Facts) contexts() []Context {
	return append([]Context{{Name: "global", Settings: f.Global}}, f.Contexts...)
}

// settingRule checks keywords against an allowed set in every context, and
// every Match block that could loosen them for some connections.
func settingRule(keys []string, allowed func(key, value string) bool, want string) func(*Facts) checks.Result {
	return func(f *Facts) checks.Result {
		if r, ok := f.unusable(); !ok {
			return r
		}
		var ev []checks.Evidence
		var bad, good []string
		for _, k := range keys {
			good = append(good, k+" "+f.Global.Get(k))
		}
		for _, c := range f.contexts() {
			for _, k := range keys {
				v := c.Settings.Get(k)
				ok := allowed(k, v)
				if c.Name != "global" && ok && v == f.Global.Get(k) {
					continue // same as global: already reported
				}
				ev = append(ev, f.evidenceFor(c, k, want, ok))
				if !ok {
					bad = append(bad, fmt.Sprintf("%s is %s (%s)", k, v, c.Name))
				}
			}
		}
		if f.Files != nil {
			for _, m := range f.Files.Matches {
				for _, d := range m.Directives {
					if slices.Contains(keys, d.Keyword) && !allowed(d.Keyword, strings.ToLower(d.Value())) {
						ev = append(ev, checks.Evidence{Subject: "Match " + m.Criteria, Key: d.Keyword, Value: d.Value(),
							Want: want, Source: "config files", File: d.File, Line: d.Line})
						bad = append(bad, fmt.Sprintf("%s %s for Match %s at %s:%d", d.Keyword, d.Value(), m.Criteria, d.File, d.Line))
					}
				}
			}
		}
		if len(bad) > 0 {
			return checks.Failf("%s", strings.Join(bad, "; ")).With(ev...)
		}
		return checks.Passf("%s (from %s)", strings.Join(good, ", "), f.Source).With(ev...)
	}
}

// unusable turns missing configuration into an error result.
func (f *Facts) unusable() (checks.Result, bool) {
	if f.Global == nil {
		reason := "no effective sshd configuration"
		if f.SourceNote != "" {
			reason += ": " + f.SourceNote
		}
		if f.FilesErr != "" {
			reason += "; " + f.FilesErr
		}
		return checks.Errorf("%s", reason), false
	}
	return checks.Result{}, true
}

func passwordAuthOff(_, v string) bool { return v == "no" }

func rootLoginSafe(_, v string) bool {
	switch v {
	case "no", "prohibit-password", "without-password", "forced-commands-only":
		return true
	}
	return false
}

// algorithmsRule fails when a comma-separated algorithm list holds anything
// outside the ED25519 family.
func pubkeyAlgorithms(f *Facts) checks.Result {
	if r, ok := f.unusable(); !ok {
		return r
	}
	var ev []checks.Evidence
	var bad []string
	for _, c := range f.contexts() {
		algs := c.Settings.List("pubkeyacceptedalgorithms")
		var extra []string
		for _, a := range algs {
			if !IsED25519(a) {
				extra = append(extra, a)
			}
		}
		if c.Name != "global" && c.Settings.Get("pubkeyacceptedalgorithms") == f.Global.Get("pubkeyacceptedalgorithms") {
			continue
		}
		e := f.evidenceFor(c, "pubkeyacceptedalgorithms", "only ssh-ed25519, sk-ssh-ed25519@openssh.com and their certificates", len(extra) == 0 && len(algs) > 0)
		e.Value = algs
		ev = append(ev, e)
		if len(extra) > 0 {
			bad = append(bad, fmt.Sprintf("%s accepts %s", c.Name, strings.Join(extra, ", ")))
		}
	}
	if len(bad) > 0 {
		return checks.Failf("user keys other than ED25519 are accepted: %s", strings.Join(bad, "; ")).With(ev...)
	}
	return checks.Passf("only ED25519 user keys are accepted").With(ev...)
}

func hostKeys(f *Facts) checks.Result {
	if r, ok := f.unusable(); !ok {
		return r
	}
	var ev []checks.Evidence
	var bad []string
	good, absent := 0, 0
	for _, hk := range f.HostKeys {
		ok := hk.Err == "" && IsED25519(hk.Type)
		e := checks.Evidence{Subject: hk.Path, Key: "type", Value: hk.Type, Want: "ssh-ed25519", Source: f.Source, OK: ok}
		if hk.Err != "" {
			e.Value = hk.Err
		}
		where := "configured"
		if d, found := f.hostKeyLine(hk.Path); found {
			e.File, e.Line = d.File, d.Line
			where = fmt.Sprintf("configured by %s:%d", d.File, d.Line)
		}
		switch {
		case f.Image && hk.Err == "missing":
			if hk.Default {
				where = "a default path (no HostKey line)"
			}
			t := generatedType(hk.Path)
			e.OK = IsED25519(t)
			if t == "" {
				e.Value = where + ", not in the image: its name does not say the type the first boot generates"
				bad = append(bad, fmt.Sprintf("%s is %s and not in the image: its name does not say the type the first boot generates there", hk.Path, where))
				break
			}
			e.Value = where + ", not in the image: the first boot generates an " + t + " key there"
			if !e.OK {
				bad = append(bad, fmt.Sprintf("%s is %s and not in the image: the first boot generates an %s key there, which sshd loads", hk.Path, where, t))
				break
			}
			good++
		case hk.Default && hk.Err == "missing":
			// sshd's default path, skipped by sshd without a word.
			e.Value, e.OK = "default path, file absent: not loaded by sshd", true
			absent++
		case hk.Err == "missing":
			e.Value = where + ", missing"
			bad = append(bad, fmt.Sprintf("%s is %s but missing", hk.Path, where))
		case hk.Err != "":
			bad = append(bad, fmt.Sprintf("%s is configured but %s", hk.Path, hk.Err))
		case !ok:
			bad = append(bad, fmt.Sprintf("%s is %s", hk.Path, hk.Type))
		default:
			good++
		}
		ev = append(ev, e)
	}
	if good == 0 {
		bad = append(bad, "no ED25519 host key is configured and present")
	}
	if len(bad) > 0 {
		return checks.Failf("%s", strings.Join(bad, "; ")).With(ev...)
	}
	if absent > 0 {
		return checks.Passf("%d host key(s), all ED25519 (%d default path(s) without a file, which sshd does not load)", good, absent).With(ev...)
	}
	return checks.Passf("%d host key(s), all ED25519", good).With(ev...)
}

// hostKeyLine finds the HostKey line that configures path.
func (f *Facts) hostKeyLine(path string) (Directive, bool) {
	if f.Files == nil {
		return Directive{}, false
	}
	for _, d := range f.Files.Global {
		if d.Keyword == "hostkey" && d.Value() == path {
			return d, true
		}
	}
	return Directive{}, false
}

func authorizedKeys(f *Facts) checks.Result {
	if r, ok := f.unusable(); !ok {
		return r
	}
	if f.AccountsErr != "" && len(f.Accounts) == 0 {
		return checks.Errorf("cannot list accounts: %s", f.AccountsErr)
	}
	var ev []checks.Evidence
	var bad []string
	var errs []string
	keys := 0
	for _, kf := range f.KeyFiles {
		if kf.Ignored != "" {
			ev = append(ev, checks.Evidence{Subject: kf.Account, Key: "file", Value: "not read by sshd: " + kf.Ignored, File: kf.Path, Source: "files", OK: true})
			continue
		}
		if kf.Err != "" {
			ev = append(ev, checks.Evidence{Subject: kf.Path, Key: "read", Value: kf.Err, Source: "files"})
			errs = append(errs, kf.Path+": "+kf.Err)
			continue
		}
		for _, p := range kf.Problems {
			ev = append(ev, checks.Evidence{Subject: kf.Path, Key: "permissions", Value: p, Want: "owned by the account or root, not group/world-writable", File: kf.Path})
			bad = append(bad, p)
		}
		keys += kf.Keys.Total
		for _, k := range kf.Keys.Entries {
			ok := k.Err == "" && IsED25519(k.Type)
			e := checks.Evidence{Subject: kf.Account, Key: "key", Value: k.Type, Want: "ssh-ed25519", File: kf.Path, Line: k.Line, OK: ok}
			if k.Comment != "" {
				e.Value = k.Type + " " + k.Comment
			}
			if k.Err != "" {
				e.Value = strings.TrimSpace(fmt.Sprintf("%s (unparsable line: %s; %d bytes, sha256 %s)", k.Type, k.Err, k.Len, k.Hash))
			}
			ev = append(ev, e)
			if !ok {
				typ := k.Type
				if typ == "" {
					typ = "unparsable entry"
				}
				bad = append(bad, fmt.Sprintf("%s:%d %s", kf.Path, k.Line, typ))
			}
		}
		if kf.Keys.Dropped > 0 {
			ev = append(ev, checks.Evidence{Subject: kf.Account, Key: "key", Value: fmt.Sprintf("%d more entries not ED25519 past the first %d", kf.Keys.Dropped, len(kf.Keys.Entries)), Want: "ssh-ed25519", File: kf.Path})
			bad = append(bad, fmt.Sprintf("%s: %d more entries not ED25519", kf.Path, kf.Keys.Dropped))
		}
	}
	if cmd := f.Global.Get("authorizedkeyscommand"); cmd != "" && cmd != "none" {
		ev = append(ev, checks.Evidence{Key: "authorizedkeyscommand", Value: cmd, Source: f.Source,
			Want: "keys it returns are not inspected", OK: true})
	}
	switch {
	case len(bad) > 0:
		return checks.Failf("%d problem(s): %s", len(bad), checks.Abridge(bad, 8, "; ")).With(ev...)
	case len(errs) > 0:
		return checks.Errorf("could not read: %s", checks.Abridge(errs, 8, "; ")).With(ev...)
	case f.AccountsErr != "":
		return checks.Errorf("%s", f.AccountsErr).With(ev...)
	}
	return checks.Passf("%d authorized key(s) in %d file(s), all ED25519", keys, len(f.KeyFiles)).With(ev...)
}

// WeakAlgorithm says why an algorithm of ciphers, macs or kexalgorithms is
// weak, or "" when it is not: the crypto check's rule, which the SSH
// remediation filters the effective lists with.
func WeakAlgorithm(key, alg string) string {
	a := strings.ToLower(alg)
	switch key {
	case "ciphers":
		for _, w := range []string{"cbc", "3des", "arcfour", "blowfish", "cast128", "rijndael", "none"} {
			if strings.Contains(a, w) {
				return "legacy cipher"
			}
		}
	case "macs":
		switch {
		case strings.Contains(a, "md5"), strings.Contains(a, "ripemd"):
			return "broken hash"
		case strings.Contains(a, "sha1"):
			return "SHA-1"
		case strings.Contains(a, "-96"), strings.Contains(a, "umac-64"):
			return "64/96-bit tag"
		}
	case "kexalgorithms":
		switch {
		case strings.Contains(a, "sha1"):
			return "SHA-1"
		case strings.HasPrefix(a, "ecdh-sha2-nistp"):
			return "NIST curve"
		case strings.Contains(a, "group1-"):
			return "1024-bit group"
		}
	}
	return ""
}

func crypto(f *Facts) checks.Result {
	if r, ok := f.unusable(); !ok {
		return r
	}
	g := Context{Name: "global", Settings: f.Global}
	var ev []checks.Evidence
	var bad []string
	for _, key := range []string{"ciphers", "macs", "kexalgorithms"} {
		var weak []string
		for _, a := range f.Global.List(key) {
			if why := WeakAlgorithm(key, a); why != "" {
				weak = append(weak, a+" ("+why+")")
			}
		}
		e := f.evidenceFor(g, key, "no CBC/3DES/arcfour ciphers, no SHA-1/MD5/64-bit MACs, no SHA-1 or NIST-curve key exchange", len(weak) == 0)
		e.Value = f.Global.List(key)
		ev = append(ev, e)
		if len(weak) > 0 {
			bad = append(bad, key+": "+strings.Join(weak, ", "))
		}
	}
	if len(bad) > 0 {
		return checks.Failf("weak algorithms enabled: %s", strings.Join(bad, "; ")).With(ev...)
	}
	return checks.Passf("only strong ciphers, MACs and key exchanges").With(ev...)
}

func liveProbe(f *Facts) checks.Result {
	if f.ProbeOff {
		return checks.Skipf("live probe disabled by configuration (ssh.probe: false)")
	}
	if r, ok := f.unusable(); !ok {
		return r
	}
	if len(f.Probes) == 0 {
		return checks.Errorf("sshd listens on no address in its configuration")
	}
	ev := f.socketEvidence()
	via := ""
	if f.SocketActivated() {
		via = " (reached through " + f.Socket.Unit + ", which holds sshd's addresses)"
	}
	var bad, errs, refused []string
	reached := 0
	for _, p := range f.Probes {
		if p.Refused {
			refused = append(refused, p.Address)
			ev = append(ev, checks.Evidence{Subject: p.Address, Key: "connect", Value: p.Err, Source: "live probe", OK: true})
			continue
		}
		if p.HostKeyAlgorithms != nil {
			var extra []string
			for _, a := range p.HostKeyAlgorithms {
				if !IsED25519(a) {
					extra = append(extra, a)
				}
			}
			ev = append(ev, checks.Evidence{Subject: p.Address, Key: "host_key_algorithms", Value: p.HostKeyAlgorithms,
				Want: "ssh-ed25519 only", Source: "live probe", OK: len(extra) == 0})
			if len(extra) > 0 {
				bad = append(bad, fmt.Sprintf("%s offers host keys %s", p.Address, strings.Join(extra, ", ")))
			}
		}
		if p.AuthMethods != nil {
			reached++
			var extra []string
			for _, m := range p.AuthMethods {
				if m != "publickey" {
					extra = append(extra, m)
				}
			}
			ev = append(ev, checks.Evidence{Subject: p.Address, Key: "auth_methods", Value: p.AuthMethods,
				Want: "publickey only", Source: "live probe", OK: len(extra) == 0})
			if len(extra) > 0 {
				bad = append(bad, fmt.Sprintf("%s allows %s authentication", p.Address, strings.Join(extra, ", ")))
			}
		}
		if p.ServerVersion != "" {
			ev = append(ev, checks.Evidence{Subject: p.Address, Key: "server_version", Value: p.ServerVersion, Source: "live probe", OK: true})
		}
		if p.Err != "" {
			errs = append(errs, fmt.Sprintf("%s: %s", p.Address, p.Err))
			ev = append(ev, checks.Evidence{Subject: p.Address, Key: "error", Value: p.Err, Source: "live probe"})
		}
	}
	switch {
	case len(bad) > 0:
		return checks.Failf("the running server %s%s", strings.Join(bad, "; "), via).With(ev...)
	case len(errs) > 0:
		return checks.Errorf("probe failed: %s", strings.Join(errs, "; ")).With(ev...)
	case reached == 0 && f.SocketActivated():
		return checks.Skipf("nothing accepts a connection on %s, the addresses of %s (the socket is not listening)", strings.Join(refused, ", "), f.Socket.Unit).With(ev...)
	case reached == 0:
		return checks.Skipf("sshd accepts no connection on %s (not running)", strings.Join(refused, ", ")).With(ev...)
	}
	return checks.Passf("the running server offers only ED25519 host keys and publickey authentication%s", via).With(ev...)
}
