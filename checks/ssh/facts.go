package ssh

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vigie-agent/vigie/checks/accounts"

	xssh "golang.org/x/crypto/ssh"

	"github.com/vigie-agent/vigie/checks"
)

// Options are the SSH area's settings.
type Options struct {
	ConfigPath   string        // sshd_config on the inspected system
	SshdPath     string        // the sshd binary, for sshd -T
	Probe        bool          // connect to the running server
	ProbeUser    string        // user name presented to the server; no secret is sent
	ProbeTimeout time.Duration // per address
	MaxUsers     int           // accounts sshd -T is asked about when Match blocks exist
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
}

// KeyFile is one authorized_keys file of one account.
type KeyFile struct {
	Account  string
	Path     string
	Keys     []KeyLine
	Problems []string // ownership and mode problems sshd's StrictModes would refuse, or worse
	Err      string
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
	KeyFiles    []KeyFile
	ProbeOff    bool
	Probes      []ProbeResult
}

// Gather reads the SSH facts of the system env describes.
func Gather(ctx context.Context, env *checks.Env, opt Options) *Facts {
	f := &Facts{Installed: true}
	files, err := ParseConfigFiles(opt.ConfigPath, "/etc/ssh", env.Path)
	if err != nil {
		f.FilesErr = err.Error()
	} else {
		f.Files = files
	}

	// The probe is the slowest fact after sshd -T; start it on the
	// addresses the files give while sshd -T runs, and catch up below if
	// sshd disagrees.
	var early chan []ProbeResult
	if opt.Probe && files != nil {
		early = make(chan []ProbeResult, 1)
		guess := ProbeTargets(FromFiles(files)["listenaddress"])
		go func() { early <- probeAddrs(ctx, guess, opt) }()
	}

	out, err := env.Cmd.Run(ctx, opt.SshdPath, "-T", "-f", opt.ConfigPath)
	if err == nil {
		var perr error
		if f.Global, perr = ParseSshdT(out); perr != nil {
			err = perr
		}
	}
	switch {
	case err == nil:
		f.Source = "sshd -T"
	case checks.NotFound(err) && files == nil:
		f.Installed = false
		return f
	case files != nil:
		f.Source = "config files"
		f.SourceNote = err.Error()
		f.Global = FromFiles(files)
	default:
		f.SourceNote = err.Error()
	}

	if data, err := os.ReadFile(env.Path("/etc/passwd")); err != nil {
		f.AccountsErr = fmt.Sprintf("read /etc/passwd: %v", err)
	} else if f.Accounts, err = accounts.ParsePasswd(data); err != nil {
		f.AccountsErr = err.Error()
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
	wg.Go(func() { f.HostKeys = readHostKeys(env, f.Global["hostkey"]) })
	if opt.Probe {
		wg.Go(func() { f.Probes = reconcileProbes(ctx, early, ProbeTargets(f.Global["listenaddress"]), opt) })
	} else {
		f.ProbeOff = true
	}
	wg.Wait()
	f.KeyFiles = readKeyFiles(env, f)
	return f
}

// userContexts asks sshd -T how it treats root and each login account
// connecting from a remote address, so Match blocks are seen.
func userContexts(ctx context.Context, env *checks.Env, opt Options, accounts []Account) []Context {
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

func readHostKeys(env *checks.Env, paths []string) []HostKey {
	out := make([]HostKey, 0, len(paths))
	for _, p := range paths {
		hk := HostKey{Path: p}
		if pub, err := readRegular(env.Path(p + ".pub")); err == nil {
			if k, _, _, _, err := xssh.ParseAuthorizedKey(pub); err == nil {
				hk.Type = k.Type()
				out = append(out, hk)
				continue
			}
		}
		priv, err := readRegular(env.Path(p))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			hk.Err = "missing"
		case err != nil:
			hk.Err = err.Error()
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

// readKeyFiles reads every account's authorized_keys files, once per path.
func readKeyFiles(env *checks.Env, f *Facts) []KeyFile {
	seen := map[string]bool{}
	var out []KeyFile
	for _, a := range f.Accounts {
		patterns := f.settingsFor(a.Name).Get("authorizedkeysfile")
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
			info, err := os.Stat(env.Path(p))
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
					out = append(out, KeyFile{Account: a.Name, Path: p, Err: err.Error()})
				}
				continue
			}
			kf := KeyFile{Account: a.Name, Path: p}
			if !info.Mode().IsRegular() {
				kf.Err = "not a regular file"
				out = append(out, kf)
				continue
			}
			if data, err := os.ReadFile(env.Path(p)); err != nil {
				kf.Err = err.Error()
			} else {
				kf.Keys = ParseAuthorizedKeys(data)
			}
			kf.Problems = pathProblems(env, p, a)
			out = append(out, kf)
		}
	}
	return out
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

// pathProblems applies sshd's StrictModes rule to a key file and every
// directory above it up to the home directory: each must be owned by the
// account or root and writable by nobody else.
func pathProblems(env *checks.Env, p string, a Account) []string {
	var probs []string
	home := strings.TrimSuffix(a.Home, "/")
	for cur := p; ; {
		info, err := os.Stat(env.Path(cur))
		if err != nil {
			probs = append(probs, fmt.Sprintf("%s: %v", cur, err))
			break
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) != a.UID && st.Uid != 0 {
			probs = append(probs, fmt.Sprintf("%s is owned by uid %d, not %s or root", cur, st.Uid, a.Name))
		}
		if info.Mode().Perm()&0o022 != 0 {
			probs = append(probs, fmt.Sprintf("%s is writable by group or others (mode %04o)", cur, info.Mode().Perm()))
		}
		if cur == home || cur == "/" || !strings.HasPrefix(cur, home+"/") {
			break
		}
		cur = parentDir(cur)
	}
	return probs
}

func parentDir(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// readRegular reads a file only if it is a regular file: a HostKey pointing
// at a FIFO or a device must not block the check.
func readRegular(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return os.ReadFile(path)
}
