package access

import (
	"fmt"
	"sort"
	"strings"
)

// Include is an @include/#include or @includedir/#includedir directive.
type Include struct {
	Dir  bool
	Path string // as written, "%h" not expanded
	Line int
}

// Alias is a User_Alias, Runas_Alias, Host_Alias or Cmnd_Alias definition.
type Alias struct {
	Kind    string   // "User_Alias", "Runas_Alias", "Host_Alias", "Cmnd_Alias"
	Name    string   // upper case, as sudoers(5) requires
	Members []string // as written, "!" in front of a negated member
	File    string
	Line    int
}

// Cmnd is one command of a user specification with what is in effect for
// it: the host list of its section, the Runas_Spec and the tags carried
// over from the commands before it.
type Cmnd struct {
	Hosts    []string
	RunAs    string   // "(ALL:ALL)"; "" when absent (runas_default)
	Tags     []string // tags in effect, e.g. "NOPASSWD", "NOEXEC"
	NoPasswd bool
	Command  string // "ALL", a path with arguments, an alias; "!" in front when negated
}

// Negated reports whether the command is excluded rather than granted.
func (c Cmnd) Negated() bool { return strings.HasPrefix(c.Command, "!") }

// UserSpec is one user specification: who may run what.
type UserSpec struct {
	Users []string // as written: "alice", "%sudo", "%:domain users", "#1000", "ADMINS", "!bob"
	Cmnds []Cmnd
	File  string
	Line  int
}

// ParseError is a logical line the parser could not read; sudo refuses
// such a file, vigie keeps reading the others.
type ParseError struct {
	Line int
	Msg  string
}

// ParsedFile is what one sudoers file says, includes not followed.
type ParsedFile struct {
	Includes []Include
	Aliases  []Alias
	Specs    []UserSpec
	Errors   []ParseError
	// NoAuth lists the Defaults lines that turn authentication off
	// ("!authenticate"): NOPASSWD for everyone they reach.
	NoAuth []NoAuth
}

// NoAuth is a Defaults line that sets !authenticate.
type NoAuth struct {
	Scope string // "" for every user, else the binding as written: ":alice", ">root", "@host", "!/bin/ls"
	File  string
	Line  int
}

// tagPairs lists the Tag_Spec words of sudoers(5), each with its opposite:
// a tag holds for the following commands of the same list until its
// opposite replaces it.
var tagPairs = [...][2]string{
	{"PASSWD", "NOPASSWD"}, {"EXEC", "NOEXEC"}, {"SETENV", "NOSETENV"},
	{"LOG_INPUT", "NOLOG_INPUT"}, {"LOG_OUTPUT", "NOLOG_OUTPUT"}, {"MAIL", "NOMAIL"},
	{"FOLLOW", "NOFOLLOW"}, {"INTERCEPT", "NOINTERCEPT"},
}

var tagSlot = func() map[string]int {
	m := map[string]int{}
	for i, p := range tagPairs {
		m[p[0]], m[p[1]] = i, i
	}
	return m
}()

// optionNames are the Option_Spec words (reserved, NAME=value).
var optionNames = map[string]bool{
	"ROLE": true, "TYPE": true, "TIMEOUT": true, "NOTBEFORE": true, "NOTAFTER": true,
	"CWD": true, "CHROOT": true, "APPARMOR_PROFILE": true, "PRIVS": true, "LIMITPRIVS": true,
}

var digestNames = map[string]bool{"sha224": true, "sha256": true, "sha384": true, "sha512": true}

var aliasKinds = map[string]string{
	"User_Alias": "User_Alias", "Runas_Alias": "Runas_Alias", "Host_Alias": "Host_Alias",
	"Cmnd_Alias": "Cmnd_Alias", "Cmd_Alias": "Cmnd_Alias",
}

// validAliasName follows sudoers(5): an upper-case letter, then upper-case
// letters, digits and underscores; ALL and the option names are reserved.
func validAliasName(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' || s == "ALL" || optionNames[s] {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// ParseSudoers reads one sudoers(5) file: backslash continuations,
// comments, include directives, aliases and user specifications. Defaults
// lines are skipped. A line it cannot read is reported in Errors and the
// rest of the file is still read.
func ParseSudoers(data []byte) *ParsedFile {
	f := &ParsedFile{}
	lines := strings.Split(string(data), "\n")
	var buf strings.Builder
	start := 0
	for i, raw := range lines {
		raw = strings.TrimSuffix(raw, "\r")
		n := i + 1
		if buf.Len() == 0 {
			start = n
			if inc, ok := parseDirective(raw); ok {
				inc.Line = n
				if inc.Path == "" {
					f.Errors = append(f.Errors, ParseError{n, "include directive without a path"})
				} else {
					f.Includes = append(f.Includes, inc)
				}
				continue
			}
		}
		text := stripComment(raw)
		if body, cont := continued(text); cont {
			buf.WriteString(body)
			buf.WriteByte(' ')
			if i < len(lines)-1 {
				continue
			}
			text = ""
		}
		buf.WriteString(text)
		logical := strings.TrimSpace(buf.String())
		buf.Reset()
		if logical == "" {
			continue
		}
		if err := f.parseLine(logical, start); err != nil {
			f.Errors = append(f.Errors, ParseError{start, err.Error()})
		}
	}
	return f
}

// noAuth reads what follows "Defaults": an optional binding (":user",
// ">runas", "@host", "!cmnd"), then comma-separated settings. It reports
// whether a setting is "!authenticate" (sudo's "!" may repeat: an odd count
// negates), and the binding.
func noAuth(rest string) (string, bool) {
	scope := ""
	if rest != "" && strings.IndexByte(":@>!", rest[0]) >= 0 {
		end := strings.IndexAny(rest, " \t")
		if end < 0 {
			return "", false
		}
		scope, rest = rest[:end], rest[end:]
	}
	for _, setting := range strings.Split(rest, ",") {
		setting = strings.TrimSpace(setting)
		bangs := len(setting) - len(strings.TrimLeft(setting, "!"))
		name := strings.TrimSpace(strings.TrimLeft(setting, "!"))
		if name == "authenticate" && bangs%2 == 1 {
			return scope, true
		}
	}
	return scope, false
}

// parseLine reads one logical line: a Defaults line (only !authenticate
// matters here), alias
// definitions or a user specification.
func (f *ParsedFile) parseLine(s string, line int) error {
	if rest, ok := strings.CutPrefix(s, "Defaults"); ok && (rest == "" || strings.IndexByte(" \t:@>!", rest[0]) >= 0) {
		if scope, off := noAuth(rest); off {
			f.NoAuth = append(f.NoAuth, NoAuth{Scope: scope, Line: line})
		}
		return nil
	}
	toks, err := tokenize(s)
	if err != nil {
		return err
	}
	p := &parser{toks: toks}
	if first, ok := p.word(); ok {
		if kind, ok := aliasKinds[first]; ok {
			p.pos++
			return f.parseAliases(p, kind, line)
		}
	}
	spec, err := parseUserSpec(p)
	if err != nil {
		return err
	}
	spec.Line = line
	f.Specs = append(f.Specs, spec)
	return nil
}

// parseAliases reads "NAME = member, ... : NAME = member, ...".
func (f *ParsedFile) parseAliases(p *parser, kind string, line int) error {
	for {
		name, ok := p.word()
		if !ok || !validAliasName(name) {
			return fmt.Errorf("invalid %s name %s", kind, p.where())
		}
		p.pos++
		if err := p.expect('='); err != nil {
			return err
		}
		var members []string
		for {
			var m string
			var err error
			if kind == "Cmnd_Alias" {
				if err = p.digests(); err != nil {
					return err
				}
				m, err = p.command()
			} else {
				m, err = p.singleItem()
			}
			if err != nil {
				return err
			}
			members = append(members, m)
			if !p.is(',') {
				break
			}
			p.pos++
		}
		f.Aliases = append(f.Aliases, Alias{Kind: kind, Name: name, Members: members, Line: line})
		if p.end() {
			return nil
		}
		if err := p.expect(':'); err != nil {
			return err
		}
	}
}

// singleItem reads "!"* word.
func (p *parser) singleItem() (string, error) {
	neg := p.negations()
	w, ok := p.word()
	if !ok {
		return "", fmt.Errorf("expected a name %s", p.where())
	}
	p.pos++
	return neg + w, nil
}

// carry is what a Cmnd_Spec_List passes from one command to the next.
type carry struct {
	runas string
	tags  [len(tagPairs)]string
}

func (c *carry) tagList() []string {
	var out []string
	for _, t := range c.tags {
		if t != "" {
			out = append(out, t)
		}
	}
	return out
}

// parseUserSpec reads "users hosts = cmnd_spec, ... : hosts = ...".
func parseUserSpec(p *parser) (UserSpec, error) {
	var spec UserSpec
	users, err := p.list()
	if err != nil {
		return spec, err
	}
	spec.Users = users
	for {
		hosts, err := p.list()
		if err != nil {
			return spec, err
		}
		if err := p.expect('='); err != nil {
			return spec, err
		}
		var c carry
		for {
			cmnd, err := p.cmndSpec(&c)
			if err != nil {
				return spec, err
			}
			cmnd.Hosts = hosts
			spec.Cmnds = append(spec.Cmnds, cmnd)
			if !p.is(',') {
				break
			}
			p.pos++
		}
		if p.end() {
			return spec, nil
		}
		if err := p.expect(':'); err != nil {
			return spec, err
		}
	}
}

// cmndSpec reads Runas_Spec? Option_Spec* (Tag_Spec ':')* Digest_List? Cmnd.
func (p *parser) cmndSpec(c *carry) (Cmnd, error) {
	if p.is('(') {
		p.pos++
		r, err := p.runas()
		if err != nil {
			return Cmnd{}, err
		}
		c.runas = r
	}
	for {
		w, ok := p.word()
		if !ok || !optionNames[w] || !p.isAt(1, '=') {
			break
		}
		p.pos += 2
		if _, ok := p.word(); !ok {
			return Cmnd{}, fmt.Errorf("expected a value for %s %s", w, p.where())
		}
		p.pos++
	}
	for {
		w, ok := p.word()
		if !ok || !p.isAt(1, ':') {
			break
		}
		slot, isTag := tagSlot[w]
		if !isTag {
			break
		}
		c.tags[slot] = w
		p.pos += 2
	}
	if err := p.digests(); err != nil {
		return Cmnd{}, err
	}
	cmd, err := p.command()
	if err != nil {
		return Cmnd{}, err
	}
	return Cmnd{RunAs: c.runas, Tags: c.tagList(), NoPasswd: c.tags[tagSlot["NOPASSWD"]] == "NOPASSWD", Command: cmd}, nil
}

// runas reads the inside of "(users : groups)", either list possibly empty.
func (p *parser) runas() (string, error) {
	var users, groups []string
	var err error
	if !p.is(':') && !p.is(')') {
		if users, err = p.list(); err != nil {
			return "", err
		}
	}
	hasGroups := false
	if p.is(':') {
		p.pos++
		hasGroups = true
		if !p.is(')') {
			if groups, err = p.list(); err != nil {
				return "", err
			}
		}
	}
	if err := p.expect(')'); err != nil {
		return "", err
	}
	s := "(" + strings.Join(users, ",")
	if hasGroups {
		s += ":" + strings.Join(groups, ",")
	}
	return s + ")", nil
}

// entry is an include or a user specification of one file.
type entry struct {
	line    int
	include *Include
	spec    *UserSpec
}

// entries orders a file's includes and specs by line, the order in which
// sudo reads them.
func (f *ParsedFile) entries() []entry {
	out := make([]entry, 0, len(f.Includes)+len(f.Specs))
	for i := range f.Includes {
		out = append(out, entry{line: f.Includes[i].Line, include: &f.Includes[i]})
	}
	for i := range f.Specs {
		out = append(out, entry{line: f.Specs[i].Line, spec: &f.Specs[i]})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].line < out[j].line })
	return out
}
