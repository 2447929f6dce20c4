// Package accounts reads the local account databases (passwd, shadow,
// group) for the areas that need them: who can log in over SSH, who has
// UID 0 or no password, who a sudo rule reaches.
package accounts

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vigie-agent/vigie/host/hostfs"
)

// Account is one passwd(5) entry, with the line it was read from.
type Account struct {
	Name     string
	Password string // the passwd field: "x" when the hash lives in shadow
	UID      int
	GID      int
	Home     string
	Shell    string
	Line     int
}

// CanLogin reports whether the shell lets the account run a session:
// nologin, false and the sync/halt/shutdown pseudo-shells do not. An empty
// shell means /bin/sh to login(1) and sshd.
func (a Account) CanLogin() bool {
	if a.Shell == "" {
		return true
	}
	base := a.Shell[strings.LastIndexByte(a.Shell, '/')+1:]
	switch base {
	case "nologin", "false", "sync", "halt", "shutdown", "true":
		return false
	}
	return true
}

// ShadowEntry is one shadow(5) entry: the part that says whether and how
// the account authenticates with a password.
type ShadowEntry struct {
	Name     string
	Password string
	Line     int
}

// Locked reports whether a password field admits no password at all: a
// leading "!" (passwd -l, usermod -L, cloud-init's lock_passwd) or "*"
// (never set), which no crypt(3) hash can produce.
func Locked(password string) bool {
	return strings.HasPrefix(password, "!") || strings.HasPrefix(password, "*")
}

// LineError lists the lines a parser had to skip.
type LineError struct {
	File  string
	Lines []int
	Why   string
}

func (e *LineError) Error() string {
	nums := make([]string, len(e.Lines))
	for i, n := range e.Lines {
		nums[i] = strconv.Itoa(n)
	}
	return fmt.Sprintf("%s: %s on line(s) %s", e.File, e.Why, strings.Join(nums, ", "))
}

// scanLines calls fn for each line with its number, allowing long lines
// (a passwd GECOS field is free text).
func scanLines(data []byte, fn func(n int, line string)) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		fn(n, sc.Text())
	}
	return sc.Err()
}

// skipLine says whether a line names no local account: blank, a comment,
// or a NIS compat entry (+name, -name, +@netgroup).
func skipLine(line string) bool {
	return line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-'
}

// ParsePasswd reads passwd(5) content. Malformed lines are skipped and
// listed in the error, since one corrupt entry must not hide the others.
func ParsePasswd(data []byte) ([]Account, error) {
	var out []Account
	var bad []int
	err := scanLines(data, func(n int, line string) {
		if skipLine(line) {
			return
		}
		f := strings.Split(line, ":")
		if len(f) != 7 || f[0] == "" {
			bad = append(bad, n)
			return
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil || uid < 0 || gid < 0 {
			bad = append(bad, n)
			return
		}
		out = append(out, Account{Name: f[0], Password: f[1], UID: uid, GID: gid, Home: f[5], Shell: f[6], Line: n})
	})
	if err != nil {
		return out, fmt.Errorf("read passwd: %w", err)
	}
	if len(bad) > 0 {
		return out, &LineError{File: "passwd", Lines: bad, Why: "malformed entry (want 7 fields, numeric uid and gid)"}
	}
	return out, nil
}

// ParseShadow reads shadow(5) content. An entry needs a name and a
// password field; the aging fields are not used here.
func ParseShadow(data []byte) ([]ShadowEntry, error) {
	var out []ShadowEntry
	var bad []int
	err := scanLines(data, func(n int, line string) {
		if skipLine(line) {
			return
		}
		f := strings.SplitN(line, ":", 3)
		if len(f) < 2 || f[0] == "" {
			bad = append(bad, n)
			return
		}
		out = append(out, ShadowEntry{Name: f[0], Password: f[1], Line: n})
	})
	if err != nil {
		return out, fmt.Errorf("read shadow: %w", err)
	}
	if len(bad) > 0 {
		return out, &LineError{File: "shadow", Lines: bad, Why: "malformed entry (want name:password:...)"}
	}
	return out, nil
}

// Group is one group(5) entry.
type Group struct {
	Name    string
	GID     int
	Members []string
}

// ParseGroup reads group(5) content, skipping what it cannot read: groups
// only name who a sudo rule reaches, they decide no verdict.
func ParseGroup(data []byte) []Group {
	var out []Group
	_ = scanLines(data, func(_ int, line string) {
		if skipLine(line) {
			return
		}
		f := strings.Split(line, ":")
		if len(f) != 4 || f[0] == "" {
			return
		}
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			return
		}
		g := Group{Name: f[0], GID: gid}
		for _, m := range strings.Split(f[3], ",") {
			if m = strings.TrimSpace(m); m != "" {
				g.Members = append(g.Members, m)
			}
		}
		out = append(out, g)
	})
	return out
}

// Cred is the account's identity as the kernel checks file access: its uid,
// its primary group and every group that lists it as a member.
func Cred(a Account, groups []Group) *hostfs.Cred {
	c := &hostfs.Cred{UID: uint32(a.UID), GIDs: []uint32{uint32(a.GID)}}
	for _, g := range groups {
		if g.GID != a.GID && slices.Contains(g.Members, a.Name) {
			c.GIDs = append(c.GIDs, uint32(g.GID))
		}
	}
	return c
}
