package access

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/vigie-agent/vigie/host/accounts"
)

// Admin is an account that can administer the host, with what makes it
// one: the SSH fix must keep a way in for each.
type Admin struct {
	Account accounts.Account
	Via     []string // "uid 0", "group sudo", "sudoers /etc/sudoers.d/90-cloud-init-users:3"
}

// adminGroups make their members administrators whatever the sudo policy
// says: sudo and admin are Debian's and Ubuntu's sudo groups, wheel the
// RHEL family's, and polkit and pam_wheel's su honour them even where
// sudoers does not.
var adminGroups = []string{"sudo", "wheel", "admin"}

// rootShells are commands that, run as root through sudo, are a root
// shell: granting one is granting ALL. A rule that grants a narrower
// command (an editor, a package manager) can often be turned into a root
// shell too, but does not make its user someone who administers the host
// through SSH; vigie keeps to the rules that say so plainly.
var rootShells = map[string]bool{
	"sh": true, "bash": true, "dash": true, "zsh": true, "ksh": true, "mksh": true,
	"fish": true, "tcsh": true, "csh": true, "su": true, "sudoedit": true,
}

// Administrators lists the accounts that can log in and administer the
// host, in passwd order: uid 0, members of the sudo, wheel and admin
// groups (by the member list or as primary group), and every user a
// sudoers rule lets run ALL (or a shell) as root, cloud-init's
// 90-cloud-init-users included. A rule's host list is not matched: a rule
// for another host name still counts, which errs on the side of keeping
// more accounts' way in. Accounts without a login shell are left out:
// sshd gives them no shell either.
func (f *Facts) Administrators() []Admin {
	via := map[string][]string{}
	add := func(name, why string) {
		if !slices.Contains(via[name], why) {
			via[name] = append(via[name], why)
		}
	}
	for _, a := range f.Accounts {
		if a.UID == 0 {
			add(a.Name, "uid 0")
		}
	}
	for _, g := range adminGroups {
		members, _ := f.groupMembers(func(gr accounts.Group) bool { return gr.Name == g })
		for _, m := range members {
			add(m, "group "+g)
		}
	}
	if s := f.Sudo; s != nil {
		idx := newAliasIndex(s.Aliases)
		for _, sp := range s.Specs {
			if !grantsRoot(sp, idx) {
				continue
			}
			why := fmt.Sprintf("sudoers %s:%d", sp.File, sp.Line)
			if s.CloudInit[sp.File] {
				why += " (cloud-init)"
			}
			for _, name := range f.sudoUsers(sp.Users, idx) {
				add(name, why)
			}
		}
	}
	var out []Admin
	for _, a := range f.Accounts {
		if w, ok := via[a.Name]; ok && (a.UID == 0 || a.CanLogin()) {
			out = append(out, Admin{Account: a, Via: w})
			delete(via, a.Name) // the first passwd entry is the one sshd uses
		}
	}
	return out
}

// grantsRoot reports whether a rule lets its users run ALL or a shell as
// root.
func grantsRoot(sp UserSpec, idx aliasIndex) bool {
	for _, c := range sp.Cmnds {
		if c.Negated() || !runsAsRoot(c.RunAs) {
			continue
		}
		for _, cmd := range idx.expand("Cmnd_Alias", []string{c.Command}, 0) {
			if strings.HasPrefix(cmd, "!") {
				continue
			}
			word, _, _ := strings.Cut(cmd, " ")
			if word == "ALL" || rootShells[path.Base(word)] {
				return true
			}
		}
	}
	return false
}

// runsAsRoot reads a Runas_Spec: absent means root (sudo's runas_default);
// a user list naming ALL, root, #0 or an alias may be root too.
func runsAsRoot(runas string) bool {
	s := strings.TrimSpace(strings.Trim(strings.TrimSpace(runas), "()"))
	if s == "" {
		return true
	}
	users, group, colon := strings.Cut(s, ":")
	users = strings.TrimSpace(users)
	if users == "" {
		// "(:group)" runs as the invoking user with another group.
		return !colon || strings.TrimSpace(group) == ""
	}
	for _, u := range strings.Split(users, ",") {
		u = strings.TrimSpace(u)
		if u == "ALL" || u == "root" || u == "#0" || validAliasName(u) {
			return true
		}
	}
	return false
}

// sudoUsers expands a rule's User_List to account names, in order: a
// negated item removes what came before it, as sudo reads the list.
func (f *Facts) sudoUsers(users []string, idx aliasIndex) []string {
	set := map[string]bool{}
	for _, it := range idx.expand("User_Alias", users, 0) {
		name := strings.TrimLeft(it, "!")
		neg := (len(it)-len(name))%2 == 1
		for _, n := range f.namesOf(name) {
			set[n] = !neg
		}
	}
	var out []string
	for n, ok := range set {
		if ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// namesOf resolves one User_List item: a user name, #uid, %group, %#gid,
// or ALL. Non-Unix groups and netgroups name nobody vigie can see.
func (f *Facts) namesOf(item string) []string {
	switch {
	case item == "ALL":
		var out []string
		for _, a := range f.Accounts {
			out = append(out, a.Name)
		}
		return out
	case strings.HasPrefix(item, "%:"), strings.HasPrefix(item, "+"):
		return nil
	case strings.HasPrefix(item, "%#"):
		gid, err := strconv.Atoi(item[2:])
		if err != nil {
			return nil
		}
		m, _ := f.groupMembers(func(g accounts.Group) bool { return g.GID == gid })
		return m
	case strings.HasPrefix(item, "%"):
		m, _ := f.groupMembers(func(g accounts.Group) bool { return g.Name == item[1:] })
		return m
	case strings.HasPrefix(item, "#"):
		uid, err := strconv.Atoi(item[1:])
		if err != nil {
			return nil
		}
		for _, a := range f.Accounts {
			if a.UID == uid {
				return []string{a.Name}
			}
		}
		return nil
	}
	return []string{strings.Trim(item, `"`)}
}
