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
	"strings"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"

	xssh "golang.org/x/crypto/ssh"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/checks/access"
	sshcheck "github.com/vigie-agent/vigie/checks/ssh"
	"github.com/vigie-agent/vigie/remediations"
)

// Options say where sshd lives and how to make it reload.
type Options struct {
	Check   sshcheck.Options
	DropIn  string // the file that wins: /etc/ssh/sshd_config.d/00-vigie.conf
	HostKey string // /etc/ssh/ssh_host_ed25519_key
	// Access says where the accounts and the sudo policy are read, to know
	// who administers the host.
	Access access.Options
	// Operator is the account running the fix (its login uid, or sudo's
	// SUDO_USER), "" when unknown: it must keep an ED25519 way in.
	Operator string
	// Force turns passwords off even when an administrator would lose
	// every way in. The operator takes the lockout risk.
	Force bool
	// Reload makes sshd read its configuration again.
	Reload func(ctx context.Context) error
}

// BuildPlan decides the changes from the SSH facts. The changes that can
// lock someone out (passwords, root's password, keys other than ED25519)
// are tried first on a scratch copy of the configuration: the real sshd is
// asked, for every administrator, how it could log in today and how with
// the candidate, and they are left out, with the reasons, when an
// administrator who logs in today would have no way in, when nobody would
// keep an ED25519 key, or when the operator running the fix would keep
// none.
func BuildPlan(ctx context.Context, env *host.Env, f *sshcheck.Facts, opt Options) (*remediations.Plan, error) {
	p := &remediations.Plan{Area: "ssh"}
	if !f.Installed {
		p.Refusals = append(p.Refusals, "OpenSSH server is not installed: nothing to fix")
		return p, nil
	}
	if f.Files == nil {
		return nil, fmt.Errorf("cannot read %s: %s", opt.Check.ConfigPath, f.FilesErr)
	}
	op, err := operatorSettings(ctx, env, f, opt)
	if err != nil {
		return nil, err
	}
	var newKey *hostKeyPair
	if !hasED25519HostKey(ctx, env, f, opt.HostKey) {
		if newKey, err = newHostKey(); err != nil {
			return nil, err
		}
	}
	files, refusals, err := planFiles(ctx, env, f, opt, op, newKey, true)
	if err != nil {
		return nil, err
	}
	j, err := judgeCandidate(ctx, env, f, opt, files, newKey)
	if err != nil {
		return nil, err
	}
	allowLockin := len(j.Blockers) == 0 || opt.Force
	if allowLockin {
		p.Notes = append(p.Notes, j.notes(opt.Force)...)
	} else {
		// One line a reason: each names an account and a path, and a plan
		// line is bounded.
		p.Refusals = append(p.Refusals, "password login, root password login and non-ED25519 keys stay allowed, so that nobody loses their way in "+
			"(give the accounts below an ED25519 key sshd accepts, or run with --force):")
		for _, b := range j.Blockers {
			p.Refusals = append(p.Refusals, "  "+b)
		}
		if files, refusals, err = planFiles(ctx, env, f, opt, op, newKey, false); err != nil {
			return nil, err
		}
	}
	p.Refusals = append(p.Refusals, refusals...)
	p.Notes = append(p.Notes, providerNotes(f, allowLockin)...)
	for _, fc := range files {
		if remediations.Changed(fc.FileChange) {
			p.Files = append(p.Files, fc.FileChange)
		}
	}
	p.Validate = func(ctx context.Context) error {
		out, err := env.Cmd.Run(ctx, opt.Check.SshdPath, "-t", "-f", opt.Check.ConfigPath)
		if err != nil {
			return fmt.Errorf("sshd -t refuses the new configuration: %w %s", err, out)
		}
		if f.Socket == nil {
			if err := canListen(ctx, env, opt); err != nil {
				return err
			}
		}
		if allowLockin {
			return j.recheck(ctx, env, f, opt)
		}
		return nil
	}
	p.Activate = opt.Reload
	p.Verify = func(ctx context.Context) error { return verify(ctx, env, opt, allowLockin) }
	return p, nil
}

// plannedFile is a change with the path sshd knows the file by (the
// change's own path is under the inspected root).
type plannedFile struct {
	remediations.FileChange
	Name string
}

// hostKeyPair is a new ED25519 host key.
type hostKeyPair struct{ Private, Public []byte }

// planFiles builds the drop-in, the new host key and the edits of the
// other files, with or without the changes that can lock someone out.
func planFiles(ctx context.Context, env *host.Env, f *sshcheck.Facts, opt Options, op sshcheck.Settings, key *hostKeyPair, allowLockin bool) ([]plannedFile, []string, error) {
	lines, refusals := mergedLines(op, allowLockin)
	var b strings.Builder
	b.WriteString("# Written by vigie fix: sshd keeps the first value it reads, and this file\n# sorts first in sshd_config.d. Each value is the stricter of what the rest\n# of the configuration says and vigie's baseline; what already complies is\n# not repeated. Remove the file and reload sshd to undo by hand.\n")
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	b.WriteString("HostKey " + opt.HostKey + "\n")
	files := []plannedFile{{Name: opt.DropIn, FileChange: remediations.FileChange{Path: env.Path(opt.DropIn), Content: []byte(b.String()), Mode: 0o644,
		Why: "settings that win over the main file and cloud-init's drop-in"}}}
	if key != nil {
		files = append(files,
			plannedFile{Name: opt.HostKey, FileChange: remediations.FileChange{Path: env.Path(opt.HostKey), Content: key.Private, Mode: 0o600, Why: "a new ED25519 host key"}},
			plannedFile{Name: opt.HostKey + ".pub", FileChange: remediations.FileChange{Path: env.Path(opt.HostKey + ".pub"), Content: key.Public, Mode: 0o644, Why: "its public half"}})
	}
	// The main file and other drop-ins: make sure the drop-in is read,
	// and comment out host keys that are not ED25519.
	for _, file := range f.Files.Files {
		if file == opt.DropIn {
			continue
		}
		data, err := env.ReadFile(ctx, file, hostfs.Config)
		if err != nil {
			return nil, nil, fmt.Errorf("read %w", err)
		}
		out := disableHostKeys(data, f)
		if file == opt.Check.ConfigPath && !includesDropIn(data, opt) {
			out = append([]byte("# Added by vigie fix: read the drop-ins first, they win.\nInclude "+filepath.Dir(opt.DropIn)+"/*.conf\n"), out...)
		}
		if !bytes.Equal(out, data) {
			files = append(files, plannedFile{Name: file, FileChange: remediations.FileChange{Path: env.Path(file), Content: out,
				Why: "host keys other than ED25519 commented out, Include of the drop-ins"}})
		}
	}
	return files, refusals, nil
}

// judgeCandidate writes the planned configuration into a scratch copy and
// judges every administrator's way in with it. Without sshd -T there is
// nothing to ask, and nobody is locked in.
func judgeCandidate(ctx context.Context, env *host.Env, f *sshcheck.Facts, opt Options, files []plannedFile, key *hostKeyPair) (judgement, error) {
	if f.Source != "sshd -T" {
		return judgement{Blockers: []string{"sshd -T could not be run, so vigie cannot ask sshd who would still log in (" + f.SourceNote + ")"}}, nil
	}
	override := map[string][]byte{}
	for _, fc := range files {
		override[fc.Name] = fc.Content
	}
	delete(override, opt.HostKey)
	delete(override, opt.HostKey+".pub")
	sc, err := newScratch(ctx, env, opt, override)
	if err != nil {
		return judgement{}, err
	}
	defer sc.close()
	if key != nil {
		// The new host key does not exist yet: the copy points at its own.
		p, err := sc.file("host_ed25519_key", key.Private)
		if err != nil {
			return judgement{}, err
		}
		override[opt.DropIn] = bytes.ReplaceAll(override[opt.DropIn], []byte("HostKey "+opt.HostKey+"\n"), []byte("HostKey "+p+"\n"))
	}
	main, err := sc.main()
	if err != nil {
		return judgement{}, err
	}
	return judgeAdmins(ctx, env, f, access.Gather(ctx, env, opt.Access), opt, main), nil
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

func newHostKey() (*hostKeyPair, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := xssh.MarshalPrivateKey(priv, "vigie")
	if err != nil {
		return nil, err
	}
	pk, err := xssh.NewPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return &hostKeyPair{Private: pem.EncodeToMemory(block), Public: xssh.MarshalAuthorizedKey(pk)}, nil
}
