package access

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/accounts"
	"github.com/vigie-agent/vigie/host/hostfs"
)

// Files the access area reads, as paths of the inspected system.
const (
	PasswdFile  = "/etc/passwd"
	ShadowFile  = "/etc/shadow"
	GroupFile   = "/etc/group"
	SudoersFile = "/etc/sudoers"
)

// authorizedKeysFiles are sshd's default AuthorizedKeysFile, relative to
// the home directory.
var authorizedKeysFiles = []string{".ssh/authorized_keys", ".ssh/authorized_keys2"}

// Options are the access area's settings.
type Options struct {
	// Sudoers is the main sudoers file, /etc/sudoers when empty.
	Sudoers string
}

// KeyFile is an authorized_keys file of an account.
type KeyFile struct {
	Path string // path on the inspected system
	Keys int    // non-comment lines
	Err  string // set when it exists but cannot be read
}

// Facts is what the access rules need.
type Facts struct {
	Accounts  []accounts.Account
	PasswdErr string // /etc/passwd could not be read at all
	PasswdBad string // malformed lines, skipped

	Shadow        map[string]accounts.ShadowEntry
	ShadowErr     string // /etc/shadow exists but could not be read (not root)
	ShadowMissing bool   // /etc/shadow does not exist
	ShadowBad     string // malformed lines, skipped

	Groups []accounts.Group
	// Keys lists the authorized_keys files of accounts with a login shell.
	Keys map[string][]KeyFile

	Sudo *Sudoers
}

// Gather reads accounts, passwords, groups, authorized_keys files and the
// sudo policy under env.Root.
func Gather(ctx context.Context, env *host.Env, opt Options) *Facts {
	f := &Facts{Shadow: map[string]accounts.ShadowEntry{}, Keys: map[string][]KeyFile{}}
	if data, err := env.ReadFile(ctx, PasswdFile, hostfs.Table); err != nil {
		f.PasswdErr = fmt.Sprintf("read %v", err)
	} else {
		accts, err := accounts.ParsePasswd(data)
		f.Accounts = accts
		if err != nil {
			f.PasswdBad = withFile(err, PasswdFile)
		}
	}
	data, err := env.ReadFile(ctx, ShadowFile, hostfs.Table)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		f.ShadowMissing = true
	case err != nil:
		f.ShadowErr = fmt.Sprintf("read %v", err)
		if errors.Is(err, fs.ErrPermission) {
			f.ShadowErr += " (vigie must run as root to read it)"
		}
	default:
		entries, err := accounts.ParseShadow(data)
		for _, e := range entries {
			if _, dup := f.Shadow[e.Name]; !dup {
				f.Shadow[e.Name] = e // the first entry is the one getspnam returns
			}
		}
		if err != nil {
			f.ShadowBad = withFile(err, ShadowFile)
		}
	}
	if data, err := env.ReadFile(ctx, GroupFile, hostfs.Table); err == nil {
		f.Groups = accounts.ParseGroup(data)
	}
	for _, a := range f.Accounts {
		if !a.CanLogin() || a.Home == "" {
			continue
		}
		cred := accounts.Cred(a, f.Groups)
		for _, rel := range authorizedKeysFiles {
			p := path.Join(a.Home, rel)
			// Read as sshd reads it: as the account, a regular file of a
			// bounded size. A FIFO, a link to /dev/zero or to a file the
			// account cannot read is reported, never followed as root.
			data, err := env.ReadFile(ctx, p, hostfs.Spec{Max: maxKeyFile, As: cred})
			switch {
			case errors.Is(err, fs.ErrNotExist):
			case err != nil:
				f.Keys[a.Name] = append(f.Keys[a.Name], KeyFile{Path: p, Err: hostfs.Why(err)})
			default:
				f.Keys[a.Name] = append(f.Keys[a.Name], KeyFile{Path: p, Keys: countKeys(data)})
			}
		}
	}
	main := opt.Sudoers
	if main == "" {
		main = SudoersFile
	}
	f.Sudo = ReadSudoers(ctx, env, main, hostname(ctx, env))
	return f
}

// maxKeyFile is the most of an authorized_keys file read, as the SSH area
// reads it.
const maxKeyFile = 1 << 20

// withFile names the file in a parser's error.
func withFile(err error, file string) string {
	var le *accounts.LineError
	if errors.As(err, &le) {
		le.File = file
		return le.Error()
	}
	return fmt.Sprintf("%s: %v", file, err)
}

func countKeys(data []byte) int {
	n := 0
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			n++
		}
	}
	return n
}

// hostname is the short host name sudo substitutes for "%h".
func hostname(ctx context.Context, env *host.Env) string {
	var h string
	if b, err := env.ReadFile(ctx, "/etc/hostname", hostfs.Small); err == nil {
		h = strings.TrimSpace(string(b))
	} else if env.Live() {
		h, _ = os.Hostname()
	}
	h, _, _ = strings.Cut(h, ".")
	return h
}

// Password is an account's effective password field and where it was read.
type Password struct {
	Value string
	File  string
	Line  int
	Known bool // false when the field is "x" and shadow has no entry or was not read
}

// PasswordOf returns the password field that authenticates the account:
// shadow's when passwd says "x", passwd's own otherwise.
func (f *Facts) PasswordOf(a accounts.Account) Password {
	if a.Password != "x" {
		return Password{Value: a.Password, File: PasswdFile, Line: a.Line, Known: true}
	}
	if e, ok := f.Shadow[a.Name]; ok {
		return Password{Value: e.Password, File: ShadowFile, Line: e.Line, Known: true}
	}
	return Password{File: ShadowFile}
}
