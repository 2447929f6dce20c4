package ssh

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/vigie-agent/vigie/checks/access"
	sshcheck "github.com/vigie-agent/vigie/checks/ssh"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/accounts"
)

// clientAddr stands for "a client somewhere on the Internet" when sshd -T
// evaluates Match blocks and Allow/Deny patterns (TEST-NET-1, RFC 5737:
// never contacted).
const clientAddr = "192.0.2.1"

// maxAdmins bounds the accounts asked about (two sshd -T each); a host
// with more administrators than this is judged on the first ones and the
// plan refuses to lock anyone in, since the rest were not asked.
const maxAdmins = 256

// way is how one account can log in through sshd under one configuration.
type way struct {
	// Lists are the AuthenticationMethods lists the account can complete
	// ("publickey", "password", "publickey,password").
	Lists    []string
	Password bool     // a password is part of one: PasswordAuthentication, or keyboard-interactive through PAM
	Keys     []string // types of the account's keys that are part of one, as written in authorized_keys
	Blocked  []string // why no ED25519 key alone lets it in
}

func (w way) any() bool { return len(w.Lists) > 0 }

// ed25519 reports whether an ED25519 key alone lets the account in.
func (w way) ed25519() bool {
	return slices.Contains(w.Lists, "publickey") && slices.ContainsFunc(w.Keys, sshcheck.IsED25519)
}

// adminView is one administrator's way in before and after the fix.
type adminView struct {
	Admin    access.Admin
	Operator bool // runs this fix
	Before   way
	After    way
	// password is the account's password field as judged, which the
	// recheck of the written configuration judges again.
	password access.Password
}

func (v adminView) who() string {
	s := v.Admin.Account.Name + " (" + strings.Join(v.Admin.Via, ", ") + ")"
	if v.Operator {
		s += ", who runs this fix,"
	}
	return s
}

// lost says what an administrator loses, "" when nothing.
func (v adminView) lost() string {
	var out []string
	if v.Before.Password && !v.After.Password {
		out = append(out, "password login")
	}
	var keys []string
	for _, k := range v.Before.Keys {
		if !slices.Contains(v.After.Keys, k) {
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		out = append(out, "its "+strings.Join(keys, ", ")+" key(s)")
	}
	return strings.Join(out, " and ")
}

// judgement is what the candidate configuration does to every
// administrator, and why the lock-in changes must not apply.
type judgement struct {
	Views    []adminView
	Blockers []string // why the plan refuses to turn passwords and weak keys off
}

// judgeAdmins asks the real sshd, for every administrator, whether it can
// log in today (the configuration in force) and with the candidate (the
// scratch copy whose main file is candidate), and with what. An
// administrator who can log in today must keep a way in; at least one
// must keep an ED25519 key; the operator running the fix, when known,
// must keep one.
func judgeAdmins(ctx context.Context, env *host.Env, f *sshcheck.Facts, af *access.Facts, opt Options, candidate string) judgement {
	admins := af.Administrators()
	var j judgement
	if op := opt.Operator; op != "" && !slices.ContainsFunc(admins, func(a access.Admin) bool { return a.Account.Name == op }) {
		for _, a := range af.Accounts {
			if a.Name == op {
				admins = append(admins, access.Admin{Account: a, Via: []string{"runs this fix"}})
				break
			}
		}
	}
	if len(admins) > maxAdmins {
		j.Blockers = append(j.Blockers, fmt.Sprintf("%d administrators, more than the %d vigie asks sshd about", len(admins), maxAdmins))
		admins = admins[:maxAdmins]
	}
	j.Views = make([]adminView, len(admins))
	errs := make([]error, len(admins))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, a := range admins {
		j.Views[i] = adminView{Admin: a, Operator: a.Account.Name == opt.Operator}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			groups := groupNames(a.Account, f.Groups)
			pw := af.PasswordOf(a.Account)
			j.Views[i].password = pw
			for _, c := range []struct {
				config string
				into   *way
			}{{opt.Check.ConfigPath, &j.Views[i].Before}, {candidate, &j.Views[i].After}} {
				s, err := sshdFor(ctx, env, opt.Check.SshdPath, c.config, a.Account.Name)
				if err != nil {
					errs[i] = err
					return
				}
				*c.into = judge(s, a.Account, groups, f.KeyFiles, pw)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			j.Blockers = append(j.Blockers, fmt.Sprintf("sshd -T could not be asked about %s: %v", admins[i].Account.Name, err))
		}
	}
	if len(j.Blockers) > 0 {
		return j
	}
	keeps := false
	for _, v := range j.Views {
		switch {
		case v.Before.any() && !v.After.any():
			j.Blockers = append(j.Blockers, v.who()+" logs in today by "+v.methods()+" and would have no way in: "+strings.Join(v.After.Blocked, "; "))
		case v.Operator && !v.After.ed25519():
			j.Blockers = append(j.Blockers, v.who()+" would keep no ED25519 key sshd accepts: "+strings.Join(v.After.Blocked, "; "))
		}
		keeps = keeps || v.After.ed25519()
	}
	if !keeps {
		j.Blockers = append(j.Blockers, "no account that can administer the host (root, a member of sudo, wheel or admin, a sudoers rule granting ALL) would keep an ED25519 key sshd accepts")
	}
	return j
}

// methods names how an administrator logs in today.
func (v adminView) methods() string {
	var m []string
	if v.Before.Password {
		m = append(m, "password")
	}
	if len(v.Before.Keys) > 0 {
		m = append(m, strings.Join(v.Before.Keys, ", ")+" key")
	}
	return strings.Join(m, " and ")
}

// notes tell the reviewer who loses what when the lock-in changes apply.
func (j judgement) notes(forced bool) []string {
	var out []string
	for _, v := range j.Views {
		lost := v.lost()
		switch {
		case lost == "":
		case v.After.any():
			out = append(out, fmt.Sprintf("%s loses %s; keeps its ED25519 key", v.who(), lost))
		case forced:
			out = append(out, fmt.Sprintf("%s loses %s and with it every way in through SSH (--force)", v.who(), lost))
		}
	}
	return out
}

// sshdFor is sshd -T for one account connecting from the Internet.
func sshdFor(ctx context.Context, env *host.Env, sshd, config, user string) (sshcheck.Settings, error) {
	spec := fmt.Sprintf("user=%s,host=%s,addr=%s", user, clientAddr, clientAddr)
	b, err := env.Cmd.Run(ctx, sshd, "-T", "-f", config, "-C", spec)
	if err != nil {
		return nil, err
	}
	return sshcheck.ParseSshdT(b)
}

// judge says how an account logs in under one effective configuration
// (sshd -T -C for that account): the order of sshd's own checks, from the
// access lists to the authentication methods and the key files.
func judge(s sshcheck.Settings, a accounts.Account, groups []string, keyFiles []sshcheck.KeyFile, pw access.Password) way {
	var w way
	password := usablePassword(pw) || pw.Known && pw.Value == "" && s.Get("permitemptypasswords") == "yes"
	if why := denied(s, a.Name, groups, clientAddr); why != "" {
		w.Blocked = append(w.Blocked, why)
		return w
	}
	if fc := s.Get("forcecommand"); fc != "" && fc != "none" {
		w.Blocked = append(w.Blocked, "ForceCommand runs instead of a shell")
		return w
	}
	root := a.UID == 0
	prl := s.Get("permitrootlogin")
	if root && (prl == "no" || prl == "forced-commands-only") {
		w.Blocked = append(w.Blocked, "PermitRootLogin "+prl)
		return w
	}
	if s.Get("usepam") != "yes" && lockedPassword(pw) {
		w.Blocked = append(w.Blocked, "the account is locked and UsePAM is off")
		return w
	}
	// Each method on its own: a password (PasswordAuthentication, or
	// keyboard-interactive through PAM, which asks for it), and the key
	// types sshd would take from the account's files.
	pwOK := password && (!root || prl == "yes") && s.Get("passwordauthentication") == "yes"
	kbdOK := password && (!root || prl == "yes") && s.Get("kbdinteractiveauthentication") == "yes" && s.Get("usepam") == "yes"
	var keys []string
	if s.Get("pubkeyauthentication") == "yes" {
		keys = w.readKeys(s, a, keyFiles)
	} else {
		w.Blocked = append(w.Blocked, "PubkeyAuthentication no")
	}
	// Then the lists of AuthenticationMethods the account can complete.
	methods := s.Get("authenticationmethods")
	lists := strings.Fields(methods)
	if methods == "" || methods == "any" {
		lists = []string{"publickey", "password", "keyboard-interactive"}
	}
	// missing says why one method is not available, "" when it is.
	missing := func(m string) string {
		switch {
		case m == "publickey" && len(keys) > 0, m == "password" && pwOK, m == "keyboard-interactive" && kbdOK:
			return ""
		case m == "publickey":
			return "no key sshd accepts"
		case !password:
			return m + " (the account has no usable password)"
		case root && prl != "yes":
			return m + " (PermitRootLogin " + prl + ")"
		case m == "password":
			return "password (PasswordAuthentication no)"
		case m == "keyboard-interactive" && s.Get("usepam") != "yes":
			return "keyboard-interactive (UsePAM no)"
		case m == "keyboard-interactive":
			return "keyboard-interactive (KbdInteractiveAuthentication no)"
		}
		return m + " (not a method vigie can vouch for)" // gssapi-with-mic, hostbased
	}
	var unmet []string
	for _, list := range lists {
		var lacks []string
		for _, m := range strings.Split(list, ",") {
			m, _, _ = strings.Cut(m, ":")
			if why := missing(m); why != "" {
				lacks = append(lacks, why)
			}
		}
		if len(lacks) > 0 {
			unmet = append(unmet, list+" lacks "+strings.Join(lacks, " and "))
			continue
		}
		w.Lists = append(w.Lists, list)
		w.Password = w.Password || strings.Contains(list, "password") || strings.Contains(list, "keyboard-interactive")
		if strings.Contains(list, "publickey") {
			w.Keys = keys
		}
	}
	if !w.ed25519() && methods != "" && methods != "any" && !slices.Contains(lists, "publickey") {
		why := "AuthenticationMethods " + methods + ": a key alone does not let in"
		if !w.any() {
			why += ", and " + strings.Join(unmet, "; ")
		}
		w.Blocked = append(w.Blocked, why)
	}
	return w
}

// readKeys lists the key types of the account's files that sshd would
// accept, and why an ED25519 key would not let it in.
func (w *way) readKeys(s sshcheck.Settings, a accounts.Account, keyFiles []sshcheck.KeyFile) []string {
	accepted := s.List("pubkeyacceptedalgorithms")
	var files, keys []string
	refused := false
	for _, pat := range strings.Fields(s.Get("authorizedkeysfile")) {
		p, err := sshcheck.ExpandAuthorizedKeysFile(pat, a)
		if err != nil || pat == "none" {
			continue
		}
		for _, kf := range keyFiles {
			if kf.Account != a.Name || kf.Path != p {
				continue
			}
			files = append(files, p)
			why := ""
			switch {
			case kf.Ignored != "":
				why = kf.Ignored
			case kf.Err != "":
				why = "vigie cannot vouch for it: " + kf.Err
			case len(kf.Problems) > 0 && s.Get("strictmodes") != "no":
				why = "sshd's StrictModes refuses it: " + strings.Join(kf.Problems, "; ")
			}
			if why != "" {
				w.Blocked = append(w.Blocked, p+": "+why)
				refused = true
				continue
			}
			for _, k := range kf.Keys.Entries {
				if k.Err == "" && !forcedCommand(k.Options) && keyAccepted(k.Type, accepted) && !slices.Contains(keys, k.Type) {
					keys = append(keys, k.Type)
				}
			}
		}
	}
	if c := s.Get("authorizedkeyscommand"); c != "" && c != "none" {
		w.Blocked = append(w.Blocked, "keys from AuthorizedKeysCommand are not seen by vigie")
	}
	if !slices.ContainsFunc(keys, sshcheck.IsED25519) {
		switch {
		case len(files) == 0:
			w.Blocked = append(w.Blocked, "no authorized_keys file ("+s.Get("authorizedkeysfile")+")")
		case !slices.ContainsFunc(accepted, sshcheck.IsED25519):
			w.Blocked = append(w.Blocked, "PubkeyAcceptedAlgorithms accepts no ED25519 key")
		case !refused:
			w.Blocked = append(w.Blocked, "no usable ED25519 key in "+strings.Join(files, ", "))
		}
	}
	return keys
}

// forcedCommand reports whether a key's options run a fixed command: such
// a key is no way to a shell.
func forcedCommand(opts []string) bool {
	return slices.ContainsFunc(opts, func(o string) bool { return strings.HasPrefix(strings.ToLower(o), "command=") })
}

// keyAccepted reports whether a key of this type (as authorized_keys
// writes it) can sign with an algorithm sshd accepts: an ssh-rsa key signs
// with rsa-sha2-512 or rsa-sha2-256 as well.
func keyAccepted(typ string, accepted []string) bool {
	algs := []string{typ}
	switch typ {
	case "ssh-rsa":
		algs = []string{"rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"}
	case "ssh-rsa-cert-v01@openssh.com":
		algs = []string{"rsa-sha2-512-cert-v01@openssh.com", "rsa-sha2-256-cert-v01@openssh.com", typ}
	}
	for _, a := range algs {
		if slices.Contains(accepted, a) {
			return true
		}
	}
	return false
}

// usablePassword reports whether the account may log in with a password:
// an unknown field (shadow unreadable) counts as one, to keep the account's
// way in; a locked, disabled or empty one does not.
func usablePassword(p access.Password) bool {
	return !p.Known || p.Value != "" && !strings.HasPrefix(p.Value, "!") && !strings.HasPrefix(p.Value, "*")
}

// lockedPassword is sshd's own test for a locked account on Linux
// (LOCKED_PASSWD_PREFIX "!"), which it applies without PAM only: such an
// account is refused even with a key.
func lockedPassword(p access.Password) bool { return p.Known && strings.HasPrefix(p.Value, "!") }

// groupNames lists an account's groups by name: its primary group and
// every group listing it, as Allow/DenyGroups see them.
func groupNames(a accounts.Account, all []accounts.Group) []string {
	var out []string
	for _, g := range all {
		if g.GID == a.GID || slices.Contains(g.Members, a.Name) {
			out = append(out, g.Name)
		}
	}
	return out
}

// denied applies DenyUsers, AllowUsers, DenyGroups and AllowGroups in
// sshd's order, and says which refuses the account.
func denied(s sshcheck.Settings, user string, groups []string, addr string) string {
	for _, p := range s["denyusers"] {
		if matchUser(user, addr, p) {
			return "DenyUsers " + p
		}
	}
	if allow := s["allowusers"]; len(allow) > 0 && !slices.ContainsFunc(allow, func(p string) bool { return matchUser(user, addr, p) }) {
		return "not in AllowUsers " + strings.Join(allow, " ")
	}
	for _, p := range s["denygroups"] {
		if slices.ContainsFunc(groups, func(g string) bool { return matchList(g, p) == 1 }) {
			return "DenyGroups " + p
		}
	}
	if allow := s["allowgroups"]; len(allow) > 0 && !slices.ContainsFunc(allow, func(p string) bool {
		return slices.ContainsFunc(groups, func(g string) bool { return matchList(g, p) == 1 })
	}) {
		return "in none of AllowGroups " + strings.Join(allow, " ")
	}
	return ""
}

// matchUser is OpenSSH's match_user: "user" or "user@host", the host part a
// pattern list over the client's address (or a CIDR).
func matchUser(user, addr, pattern string) bool {
	u, h, at := strings.Cut(pattern, "@")
	if !wildcard(user, u) {
		return false
	}
	return !at || matchHostList(addr, h) == 1
}

// matchList is OpenSSH's match_pattern_list: 1 when a pattern of the
// comma-separated list matches, -1 when a negated one does, 0 otherwise.
func matchList(s, list string) int {
	got := 0
	for _, p := range strings.Split(list, ",") {
		neg := strings.HasPrefix(p, "!")
		if wildcard(s, strings.TrimPrefix(p, "!")) {
			if neg {
				return -1
			}
			got = 1
		}
	}
	return got
}

// matchHostList is matchList for an address, CIDR entries included.
func matchHostList(addr, list string) int {
	ip := net.ParseIP(addr)
	got := 0
	for _, p := range strings.Split(list, ",") {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		ok := wildcard(addr, p)
		if _, n, err := net.ParseCIDR(p); err == nil && ip != nil {
			ok = n.Contains(ip)
		}
		if ok {
			if neg {
				return -1
			}
			got = 1
		}
	}
	return got
}

// wildcard is OpenSSH's match_pattern: '*' any run, '?' one character.
// It backtracks only to the last star, so a pattern of many stars costs
// time linear in its length times the name's, not exponential.
func wildcard(s, p string) bool {
	si, pi, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			si++
			pi++
		case star >= 0:
			mark++
			si, pi = mark, star+1
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// recheck asks the real sshd again once the files are written, before they
// take effect: every administrator the scratch copy kept in must be kept
// in by the configuration as written, or the run is reverted.
func (j judgement) recheck(ctx context.Context, env *host.Env, f *sshcheck.Facts, opt Options) error {
	var bad []string
	for _, v := range j.Views {
		if !v.After.any() {
			continue
		}
		s, err := sshdFor(ctx, env, opt.Check.SshdPath, opt.Check.ConfigPath, v.Admin.Account.Name)
		if err != nil {
			return fmt.Errorf("sshd -T for %s: %w", v.Admin.Account.Name, err)
		}
		now := judge(s, v.Admin.Account, groupNames(v.Admin.Account, f.Groups), f.KeyFiles, v.password)
		if !now.any() || v.After.ed25519() && !now.ed25519() {
			bad = append(bad, v.Admin.Account.Name+": "+strings.Join(now.Blocked, "; "))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("the configuration as written would lock out %s", strings.Join(bad, ", "))
	}
	return nil
}
