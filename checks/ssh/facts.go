package ssh

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/accounts"
	"github.com/vigie-agent/vigie/host/hostfs"
	"github.com/vigie-agent/vigie/host/scaleway"
	"github.com/vigie-agent/vigie/host/units"

	xssh "golang.org/x/crypto/ssh"
)

// Options are the SSH area's settings.
type Options struct {
	ConfigPath   string        // sshd_config on the inspected system
	SshdPath     string        // the sshd binary, for sshd -T
	Probe        bool          // connect to the running server
	ProbeUser    string        // user name presented to the server; no secret is sent
	ProbeTimeout time.Duration // per address
	MaxUsers     int           // accounts sshd -T is asked about when Match blocks exist
	// Metadata is the run's metadata client, for the keys the provider
	// installs at boot (ssh.provider-keys); nil never asks.
	Metadata *scaleway.Client
}

// DefaultOptions are right for a stock Debian, Ubuntu or RHEL host.
func DefaultOptions() Options {
	return Options{
		ConfigPath:   "/etc/ssh/sshd_config",
		SshdPath:     "/usr/sbin/sshd",
		Probe:        true,
		ProbeUser:    "root",
		ProbeTimeout: 5 * time.Second,
		MaxUsers:     32,
	}
}

// remoteAddr stands for "a client somewhere on the Internet" when sshd -T
// evaluates Match blocks (TEST-NET-1, RFC 5737: never contacted).
const remoteAddr = "192.0.2.1"

// Context is the effective configuration for one kind of connection.
type Context struct {
	Name     string // "global" or "user NAME"
	Settings Settings
}

// HostKey is one configured HostKey file and what it holds.
type HostKey struct {
	Path string
	Type string
	Err  string
	// Default says no HostKey keyword is in the configuration, so the path
	// is one of the defaults sshd fills in (servconf.c does so only when
	// no HostKey was read). sshd skips such a path whose file is absent
	// without a word, where a missing key a HostKey line names is an error
	// ("Unable to load host key").
	Default bool
}

// KeyFile is one authorized_keys file of one account.
type KeyFile struct {
	Account  string
	Path     string
	Keys     KeyList
	Problems []string // ownership and mode problems sshd's StrictModes would refuse, or worse
	// Ignored says why sshd would not read the file at all (a FIFO, a
	// directory, a symlink to a file the account cannot read): it grants
	// no key.
	Ignored string
	Err     string // it could not be inspected, so what it grants is unknown
}

// Facts is everything the SSH rules need, read once.
type Facts struct {
	Installed   bool
	Source      string // "sshd -T" or "config files"
	SourceNote  string // why sshd -T was not used
	Files       *ConfigFiles
	FilesErr    string
	Global      Settings
	Contexts    []Context // per-account views, when Match blocks exist
	HostKeys    []HostKey
	Accounts    []Account
	AccountsErr string
	Groups      []accounts.Group // for the accounts' supplementary groups
	KeyFiles    []KeyFile
	ProbeOff    bool
	Probes      []ProbeResult
	// Socket is ssh.socket or sshd.socket when one is active or enabled:
	// while it listens, systemd holds sshd's addresses (see Listening).
	Socket *units.Socket
	// Provider are the SSH keys the provider's metadata installs at boot.
	Provider ProviderFacts
	// Image says the facts are an image's (host.Env.Image): read from its
	// files alone, no sshd asked or probed.
	Image bool
}

// imageNote is why sshd -T is not run on an image: the build machine's
// sshd would read its own Include files, host keys and defaults.
const imageNote = "image mode: sshd -T is not run on an image"

// Gather reads the SSH facts of the system env describes.
func Gather(ctx context.Context, env *host.Env, opt Options) *Facts {
	return gather(ctx, env, opt, units.SSHSocket(ctx, env))
}

// gather reads the facts with the socket unit already read: the addresses
// to probe depend on it.
func gather(ctx context.Context, env *host.Env, opt Options, sock *units.Socket) *Facts {
	f := &Facts{Installed: true, Socket: sock, Image: env.Image}
	provider := gatherProvider(ctx, env, opt.Metadata)
	defer func() { f.Provider = provider() }()
	files, err := ParseConfigFiles(ctx, env.FS(), opt.ConfigPath, "/etc/ssh")
	if err != nil {
		f.FilesErr = err.Error()
	} else {
		f.Files = files
	}

	// The probe is the slowest fact after sshd -T; start it on the
	// addresses the files give while sshd -T runs, and catch up below if
	// sshd disagrees.
	probe := opt.Probe && !env.Image
	var early chan []ProbeResult
	if probe && files != nil {
		early = make(chan []ProbeResult, 1)
		guess := ProbeTargets(f.listening(FromFiles(files)))
		go func() { early <- probeAddrs(ctx, guess, opt) }()
	}

	var out []byte
	if env.Image {
		err = errors.New(imageNote)
	} else {
		out, err = env.Cmd.Run(ctx, opt.SshdPath, "-T", "-f", opt.ConfigPath)
	}
	if err == nil {
		var perr error
		if f.Global, perr = ParseSshdT(out); perr != nil {
			err = perr
		}
	}
	switch {
	case err == nil:
		f.Source = "sshd -T"
	case env.Image && files == nil && !env.FS().Exists(ctx, opt.SshdPath):
		f.Installed = false
		return f
	case host.NotFound(err) && files == nil:
		f.Installed = false
		return f
	case files != nil:
		f.Source = "config files"
		f.SourceNote = err.Error()
		f.Global = FromFiles(files)
	default:
		f.SourceNote = err.Error()
	}

	if data, err := env.ReadFile(ctx, "/etc/passwd", hostfs.Table); err != nil {
		f.AccountsErr = fmt.Sprintf("read %v", err)
	} else if f.Accounts, err = accounts.ParsePasswd(data); err != nil {
		f.AccountsErr = err.Error()
	}
	if data, err := env.ReadFile(ctx, "/etc/group", hostfs.Table); err == nil {
		f.Groups = accounts.ParseGroup(data)
	}

	if f.Global == nil {
		if early != nil {
			<-early
		}
		return f
	}
	var wg sync.WaitGroup
	if f.Source == "sshd -T" && files != nil && len(files.Matches) > 0 {
		wg.Go(func() { f.Contexts = userContexts(ctx, env, opt, f.Accounts) })
	}
	wg.Go(func() { f.HostKeys = readHostKeys(ctx, env, f.Global["hostkey"], defaultHostKeys(files)) })
	if probe {
		wg.Go(func() { f.Probes = reconcileProbes(ctx, early, ProbeTargets(f.Listening()), opt) })
	} else {
		f.ProbeOff = true
	}
	wg.Wait()
	f.KeyFiles = readKeyFiles(ctx, env, f)
	return f
}

// userContexts asks sshd -T how it treats root and each login account
// connecting from a remote address, so Match blocks are seen.
func userContexts(ctx context.Context, env *host.Env, opt Options, accounts []Account) []Context {
	var users []string
	for _, a := range accounts {
		if a.UID == 0 || a.CanLogin() {
			users = append(users, a.Name)
		}
		if len(users) >= opt.MaxUsers {
			break
		}
	}
	out := make([]Context, len(users))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			spec := fmt.Sprintf("user=%s,host=%s,addr=%s", u, remoteAddr, remoteAddr)
			b, err := env.Cmd.Run(ctx, opt.SshdPath, "-T", "-f", opt.ConfigPath, "-C", spec)
			if err != nil {
				return
			}
			if s, err := ParseSshdT(b); err == nil {
				out[i] = Context{Name: "user " + u, Settings: s}
			}
		})
	}
	wg.Wait()
	var ok []Context
	for _, c := range out {
		if c.Settings != nil {
			ok = append(ok, c)
		}
	}
	return ok
}

// hostKeySpec bounds a host key file: an RSA private key of 16384 bits is
// under 13 KiB.
var hostKeySpec = hostfs.Spec{Max: 64 << 10}

// defaultHostKeys reports whether sshd uses its default host key paths: no
// file it reads has a HostKey line. Unknown files (they could not be read)
// count as configured, so a missing key stays a finding.
func defaultHostKeys(files *ConfigFiles) bool {
	if files == nil {
		return false
	}
	for _, d := range files.Global {
		if d.Keyword == "hostkey" {
			return false
		}
	}
	for _, m := range files.Matches {
		for _, d := range m.Directives {
			if d.Keyword == "hostkey" {
				return false // sshd refuses it there; not a default either
			}
		}
	}
	return true
}

func readHostKeys(ctx context.Context, env *host.Env, paths []string, defaulted bool) []HostKey {
	out := make([]HostKey, 0, len(paths))
	for _, p := range paths {
		hk := HostKey{Path: p, Default: defaulted}
		if pub, err := env.ReadFile(ctx, p+".pub", hostKeySpec); err == nil {
			if k, _, _, _, err := xssh.ParseAuthorizedKey(pub); err == nil {
				hk.Type = k.Type()
				out = append(out, hk)
				continue
			}
		}
		priv, err := env.ReadFile(ctx, p, hostKeySpec)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			hk.Err = "missing"
		case err != nil:
			hk.Err = hostfs.Why(err)
		default:
			if s, err := xssh.ParsePrivateKey(priv); err != nil {
				hk.Err = "unreadable key: " + err.Error()
			} else {
				hk.Type = s.PublicKey().Type()
			}
		}
		out = append(out, hk)
	}
	return out
}

// ProbeTargets maps the addresses sshd listens on to addresses to connect
// to: a wildcard becomes the loopback of its family.
func ProbeTargets(listens []string) []string {
	seen := map[string]bool{}
	var addrs []string
	for _, l := range listens {
		host, port := splitHostPortLoose(l)
		switch host {
		case "0.0.0.0", "":
			host = "127.0.0.1"
		case "::":
			host = "::1"
		}
		a := net.JoinHostPort(host, port)
		if !seen[a] {
			seen[a] = true
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// probeAddrs probes addresses concurrently.
func probeAddrs(ctx context.Context, addrs []string, opt Options) []ProbeResult {
	out := make([]ProbeResult, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Go(func() { out[i] = Probe(ctx, a, opt.ProbeUser, opt.ProbeTimeout) })
	}
	wg.Wait()
	return out
}

// reconcileProbes keeps the early results for the addresses sshd really
// listens on and probes the ones the files did not predict.
func reconcileProbes(ctx context.Context, early chan []ProbeResult, want []string, opt Options) []ProbeResult {
	have := map[string]ProbeResult{}
	if early != nil {
		for _, r := range <-early {
			have[r.Address] = r
		}
	}
	var missing []string
	for _, a := range want {
		if _, ok := have[a]; !ok {
			missing = append(missing, a)
		}
	}
	for _, r := range probeAddrs(ctx, missing, opt) {
		have[r.Address] = r
	}
	out := make([]ProbeResult, 0, len(want))
	for _, a := range want {
		out = append(out, have[a])
	}
	return out
}

// readKeyFiles reads every account's authorized_keys files, once per path,
// the way sshd does: as the account (package hostfs checks the account's
// own access to every directory and to the file, following symlinks only
// under those rules), and only a regular file of a bounded size. A file
// sshd would not read is kept with the reason, since it grants nothing.
func readKeyFiles(ctx context.Context, env *host.Env, f *Facts) []KeyFile {
	seen := map[string]bool{}
	var out []KeyFile
	for _, a := range f.Accounts {
		patterns := f.settingsFor(a.Name).Get("authorizedkeysfile")
		cred := accounts.Cred(a, f.Groups)
		for _, pat := range strings.Fields(patterns) {
			if pat == "none" {
				continue
			}
			p, err := ExpandAuthorizedKeysFile(pat, a)
			if err != nil {
				out = append(out, KeyFile{Account: a.Name, Path: pat, Err: err.Error()})
				continue
			}
			if seen[p] {
				continue
			}
			seen[p] = true
			if ctx.Err() != nil {
				out = append(out, KeyFile{Account: a.Name, Path: p, Err: "not read: " + ctx.Err().Error()})
				continue
			}
			if kf, ok := f.readKeyFile(ctx, env, p, a, cred); ok {
				out = append(out, kf)
			}
		}
	}
	return out
}

// readKeyFile reads one authorized_keys file; ok is false when there is
// none.
func (f *Facts) readKeyFile(ctx context.Context, env *host.Env, p string, a Account, cred *hostfs.Cred) (KeyFile, bool) {
	kf := KeyFile{Account: a.Name, Path: p}
	file, err := env.FS().Open(ctx, p, hostfs.Spec{Max: maxKeyFile, As: cred})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return kf, false
	case errors.Is(err, hostfs.ErrKind), errors.Is(err, hostfs.ErrNoAccess), errors.Is(err, hostfs.ErrPseudo),
		errors.Is(err, syscall.ELOOP), errors.Is(err, fs.ErrPermission):
		kf.Ignored = hostfs.Why(err)
		return kf, true
	case err != nil:
		kf.Err = hostfs.Why(err)
		return kf, true
	}
	defer file.Close()
	data, err := file.ReadAll(ctx)
	if err != nil {
		kf.Err = hostfs.Why(err)
		return kf, true
	}
	kf.Keys = ParseAuthorizedKeys(data)
	if f.settingsFor(a.Name).Get("strictmodes") != "no" {
		kf.Problems = pathProblems(ctx, env, file, a)
	}
	return kf, true
}

// settingsFor returns the configuration sshd applies to an account: its own
// Match view when one was computed, the global one otherwise.
func (f *Facts) settingsFor(user string) Settings {
	for _, c := range f.Contexts {
		if c.Name == "user "+user {
			return c.Settings
		}
	}
	return f.Global
}

// pathProblems applies sshd's StrictModes rule to a key file as opened and
// every directory of its resolved path up to the account's home (or up to
// "/" when the file resolves outside it): each must be owned by the account
// or root and writable by nobody else.
func pathProblems(ctx context.Context, env *host.Env, file *hostfs.File, a Account) []string {
	home := strings.TrimSuffix(a.Home, "/")
	if h, err := env.FS().Stat(ctx, a.Home, hostfs.Spec{}); err == nil {
		home = h.Info.Path // sshd compares with the home's real path
	}
	var probs []string
	check := func(i hostfs.Info) {
		if int(i.UID) != a.UID && i.UID != 0 {
			probs = append(probs, fmt.Sprintf("%s is owned by uid %d, not %s or root", i.Path, i.UID, a.Name))
		}
		if i.Mode.Perm()&0o022 != 0 {
			probs = append(probs, fmt.Sprintf("%s is writable by group or others (mode %04o)", i.Path, i.Mode.Perm()))
		}
	}
	check(file.Info)
	for i := len(file.Dirs) - 1; i >= 0; i-- {
		check(file.Dirs[i])
		if file.Dirs[i].Path == home {
			break
		}
	}
	return probs
}
