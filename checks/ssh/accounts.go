package ssh

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Account is one /etc/passwd entry, the part sshd uses.
type Account struct {
	Name  string
	UID   int
	GID   int
	Home  string
	Shell string
}

// CanLogin reports whether the shell lets the account run a session.
// Accounts with nologin or false shells may still hold keys (port
// forwarding, forced commands), so keys are checked for every account; this
// only decides which accounts sshd -T is asked about.
func (a Account) CanLogin() bool {
	switch {
	case a.Shell == "":
		return true // sshd falls back to /bin/sh
	case strings.HasSuffix(a.Shell, "/nologin"), strings.HasSuffix(a.Shell, "/false"),
		strings.HasSuffix(a.Shell, "/sync"), strings.HasSuffix(a.Shell, "/halt"),
		strings.HasSuffix(a.Shell, "/shutdown"):
		return false
	}
	return true
}

// ParsePasswd reads passwd(5) content. Malformed lines are skipped with an
// error listing them, since one corrupt entry must not hide the others.
func ParsePasswd(data []byte) ([]Account, error) {
	var out []Account
	var bad []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "+") || strings.HasPrefix(line, "-") {
			continue // NIS compat lines name no local account
		}
		f := strings.Split(line, ":")
		if len(f) != 7 || f[0] == "" {
			bad = append(bad, strconv.Itoa(n))
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil || uid < 0 || gid < 0 {
			bad = append(bad, strconv.Itoa(n))
			continue
		}
		out = append(out, Account{Name: f[0], UID: uid, GID: gid, Home: f[5], Shell: f[6]})
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read passwd: %w", err)
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("malformed passwd lines %s", strings.Join(bad, ", "))
	}
	return out, nil
}

// ExpandAuthorizedKeysFile turns one AuthorizedKeysFile pattern into a path
// for an account: %% is a literal %, %h the home directory, %u the user
// name, %U the numeric uid; a relative result is relative to the home.
func ExpandAuthorizedKeysFile(pattern string, a Account) (string, error) {
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(pattern) {
			return "", fmt.Errorf("AuthorizedKeysFile %q ends with a lone %%", pattern)
		}
		switch pattern[i] {
		case '%':
			b.WriteByte('%')
		case 'h':
			b.WriteString(a.Home)
		case 'u':
			b.WriteString(a.Name)
		case 'U':
			b.WriteString(strconv.Itoa(a.UID))
		default:
			return "", fmt.Errorf("AuthorizedKeysFile %q: unknown token %%%c", pattern, pattern[i])
		}
	}
	p := b.String()
	if !strings.HasPrefix(p, "/") {
		p = strings.TrimSuffix(a.Home, "/") + "/" + p
	}
	return p, nil
}
