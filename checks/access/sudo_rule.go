package access

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/vigie-agent/vigie/host/accounts"

	"github.com/vigie-agent/vigie/checks"
)

// maxAliasDepth bounds alias expansion; sudo rejects alias cycles, a
// hand-written file may still contain one.
const maxAliasDepth = 32

// aliasIndex finds an alias by kind and name; a later definition wins.
type aliasIndex map[string]Alias

func newAliasIndex(as []Alias) aliasIndex {
	idx := aliasIndex{}
	for _, a := range as {
		idx[a.Kind+" "+a.Name] = a
	}
	return idx
}

// expand replaces alias names of one kind by their members, recursively,
// carrying negation: "!ADMINS" with ADMINS = alice, !bob gives !alice, bob.
func (idx aliasIndex) expand(kind string, items []string, depth int) []string {
	var out []string
	for _, it := range items {
		name := strings.TrimLeft(it, "!")
		neg := (len(it)-len(name))%2 == 1
		a, ok := idx[kind+" "+name]
		if !ok || depth >= maxAliasDepth {
			out = append(out, it)
			continue
		}
		for _, m := range idx.expand(kind, a.Members, depth+1) {
			if neg {
				if strings.HasPrefix(m, "!") {
					m = m[1:]
				} else {
					m = "!" + m
				}
			}
			out = append(out, m)
		}
	}
	return out
}

// groupMembers lists who belongs to a group: its member list and the
// accounts whose primary group it is.
func (f *Facts) groupMembers(match func(accounts.Group) bool) ([]string, bool) {
	for _, g := range f.Groups {
		if !match(g) {
			continue
		}
		set := map[string]bool{}
		for _, m := range g.Members {
			set[m] = true
		}
		for _, a := range f.Accounts {
			if a.GID == g.GID {
				set[a.Name] = true
			}
		}
		out := make([]string, 0, len(set))
		for m := range set {
			out = append(out, m)
		}
		sort.Strings(out)
		return out, true
	}
	return nil, false
}

// describeUser says who one User_List member is: group members spelled out.
func (f *Facts) describeUser(u string) string {
	name := strings.TrimLeft(u, "!")
	var members []string
	var known bool
	switch {
	case name == "ALL":
		return u + " (every user)"
	case strings.HasPrefix(name, "%:"):
		return u + " (non-Unix group)"
	case strings.HasPrefix(name, "%#"):
		gid, err := strconv.Atoi(name[2:])
		if err != nil {
			return u
		}
		members, known = f.groupMembers(func(g accounts.Group) bool { return g.GID == gid })
	case strings.HasPrefix(name, "%"):
		members, known = f.groupMembers(func(g accounts.Group) bool { return g.Name == name[1:] })
	default:
		return u
	}
	switch {
	case !known:
		return u + " (group not in " + GroupFile + ")"
	case len(members) == 0:
		return u + " (no members)"
	}
	return u + " (members: " + strings.Join(members, ", ") + ")"
}

// who expands a User_List into a readable line.
func (f *Facts) who(users []string, idx aliasIndex) string {
	items := idx.expand("User_Alias", users, 0)
	out := make([]string, len(items))
	for i, u := range items {
		out[i] = f.describeUser(u)
	}
	return strings.Join(out, ", ")
}

// describeCmnd writes "(runas) command", spelling out a Cmnd_Alias and
// naming hosts other than ALL.
func describeCmnd(c Cmnd, idx aliasIndex) string {
	s := c.Command
	if exp := idx.expand("Cmnd_Alias", []string{c.Command}, 0); len(exp) != 1 || exp[0] != c.Command {
		s += " = " + strings.Join(exp, ", ")
	}
	if c.RunAs != "" {
		s = c.RunAs + " " + s
	}
	if len(c.Hosts) != 1 || c.Hosts[0] != "ALL" {
		s += " on " + strings.Join(c.Hosts, ",")
	}
	return s
}

func sudoNoPasswdRule(f *Facts) checks.Result {
	s := f.Sudo
	switch {
	case s == nil:
		return checks.Errorf("the sudo policy was not read")
	case s.Err != "":
		return checks.Errorf("%s", s.Err)
	case s.Missing:
		return checks.Passf("%s does not exist: sudo is not installed", s.Main)
	}
	idx := newAliasIndex(s.Aliases)
	ev := []checks.Evidence{{Key: "files", Value: s.Files, Source: "sudoers and its includes, in sudo's order", OK: true}}
	var grants []string
	fromCloudInit := 0
	for _, sp := range s.Specs {
		var cmds []string
		for _, c := range sp.Cmnds {
			if c.NoPasswd && !c.Negated() {
				cmds = append(cmds, describeCmnd(c, idx))
			}
		}
		if len(cmds) == 0 {
			continue
		}
		who := f.who(sp.Users, idx)
		source := "sudoers rule"
		if s.CloudInit[sp.File] {
			fromCloudInit++
			source = "written by cloud-init for the user(s) its user-data creates (the image's default user gets ALL=(ALL) NOPASSWD:ALL)"
		}
		grants = append(grants, fmt.Sprintf("%s:%d %s", sp.File, sp.Line, who))
		ev = append(ev, checks.Evidence{Subject: who, Key: "NOPASSWD", Value: cmds, Want: "sudo asks for the user's password", Source: source, File: sp.File, Line: sp.Line})
	}
	for _, d := range s.NoAuth {
		who := "every user"
		if d.Scope != "" {
			who = "Defaults" + d.Scope
		}
		grants = append(grants, fmt.Sprintf("%s:%d Defaults%s !authenticate", d.File, d.Line, d.Scope))
		ev = append(ev, checks.Evidence{Subject: who, Key: "Defaults", Value: "!authenticate", Want: "sudo asks for the user's password", Source: "sudoers Defaults: NOPASSWD for every rule it reaches", File: d.File, Line: d.Line})
	}
	for _, p := range s.Problems {
		ev = append(ev, checks.Evidence{Key: "problem", Value: p.Msg, Want: "every sudoers line readable", File: p.File, Line: p.Line})
	}
	for _, n := range s.Notes {
		ev = append(ev, checks.Evidence{Key: "include", Value: n, OK: true})
	}
	switch {
	case len(grants) > 0:
		reason := fmt.Sprintf("%d sudo rule(s) let commands run as another user without a password: %s", len(grants), checks.Abridge(grants, 4, "; "))
		if fromCloudInit > 0 {
			reason += fmt.Sprintf(" (%d of them written by cloud-init for the image's default user)", fromCloudInit)
		}
		return checks.Failf("%s", reason).With(ev...)
	case len(s.Problems) > 0:
		msgs := make([]string, len(s.Problems))
		for i, p := range s.Problems {
			msgs[i] = fmt.Sprintf("%s:%d %s", p.File, p.Line, p.Msg)
		}
		return checks.Errorf("could not read every sudo rule, a NOPASSWD rule may be hidden: %s", checks.Abridge(msgs, 3, "; ")).With(ev...)
	}
	return checks.Passf("no sudo rule grants NOPASSWD (%d rule(s) in %d file(s))", len(s.Specs), len(s.Files)).With(ev...)
}
