package access

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"
)

// maxIncludeDepth is sudo's own limit on nested includes.
const maxIncludeDepth = 128

// Problem is something in the sudoers files that keeps vigie from seeing
// every rule: a line it cannot parse, a file it cannot read.
type Problem struct {
	File string
	Line int
	Msg  string
}

// Sudoers is the whole sudo policy: the main file and everything it
// includes, read in sudo's order.
type Sudoers struct {
	Main      string   // the main file
	Files     []string // every file read, in order
	Specs     []UserSpec
	Aliases   []Alias
	NoAuth    []NoAuth        // Defaults lines that turn authentication off
	Notes     []string        // includes that name nothing (a missing directory or file)
	Problems  []Problem       // unparsable lines, unreadable included files
	CloudInit map[string]bool // files written by cloud-init
	Missing   bool            // the main file does not exist: sudo is not installed
	Err       string          // the main file exists but cannot be read
}

// ReadSudoers reads the main sudoers file and follows its include
// directives under env.Root: a relative path is relative to the directory
// of the file that includes it, "%h" is the short host name, files in an
// include directory are read in lexical order skipping names that end in
// "~" or contain a ".", and includes nest at most 128 deep.
func ReadSudoers(ctx context.Context, env *host.Env, main, host string) *Sudoers {
	s := &Sudoers{Main: main}
	data, err := env.ReadFile(ctx, main, hostfs.Config)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.Missing = true
		return s
	case err != nil:
		s.Err = fmt.Sprintf("read %v", err)
		return s
	}
	r := &sudoersReader{ctx: ctx, env: env, host: host, s: s}
	r.file(main, data, nil)
	return s
}

type sudoersReader struct {
	ctx  context.Context
	env  *host.Env
	host string
	s    *Sudoers
}

func (r *sudoersReader) file(name string, data []byte, stack []string) {
	s := r.s
	s.Files = append(s.Files, name)
	if writtenByCloudInit(name, data) {
		if s.CloudInit == nil {
			s.CloudInit = map[string]bool{}
		}
		s.CloudInit[name] = true
	}
	stack = append(stack, name)
	f := ParseSudoers(data)
	for _, e := range f.Errors {
		s.Problems = append(s.Problems, Problem{File: name, Line: e.Line, Msg: "syntax error: " + e.Msg})
	}
	for _, a := range f.Aliases {
		a.File = name
		s.Aliases = append(s.Aliases, a)
	}
	for _, d := range f.NoAuth {
		d.File = name
		s.NoAuth = append(s.NoAuth, d)
	}
	for _, e := range f.entries() {
		if e.spec != nil {
			sp := *e.spec
			sp.File = name
			s.Specs = append(s.Specs, sp)
			continue
		}
		inc := *e.include
		target := r.resolve(name, inc.Path)
		if len(stack) >= maxIncludeDepth {
			s.Problems = append(s.Problems, Problem{File: name, Line: inc.Line, Msg: "includes nested deeper than 128: " + target + " not read"})
			continue
		}
		if inc.Dir {
			r.dir(name, inc.Line, target, stack)
		} else {
			r.include(name, inc.Line, target, stack)
		}
	}
}

// resolve expands "%h" and makes a relative path relative to the including
// file's directory.
func (r *sudoersReader) resolve(from, p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+1 < len(p) {
			switch p[i+1] {
			case 'h':
				b.WriteString(r.host)
				i++
				continue
			case '%':
				b.WriteByte('%')
				i++
				continue
			}
		}
		b.WriteByte(p[i])
	}
	out := b.String()
	if !strings.HasPrefix(out, "/") {
		out = path.Join(path.Dir(from), out)
	}
	return path.Clean(out)
}

func (r *sudoersReader) include(from string, line int, target string, stack []string) {
	for _, f := range stack {
		if f == target {
			r.s.Problems = append(r.s.Problems, Problem{File: from, Line: line, Msg: "include loop: " + target + " is already being read"})
			return
		}
	}
	data, err := r.env.ReadFile(r.ctx, target, hostfs.Config)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.s.Notes = append(r.s.Notes, fmt.Sprintf("%s:%d includes %s, which does not exist", from, line, target))
	case err != nil:
		r.s.Problems = append(r.s.Problems, Problem{File: from, Line: line, Msg: fmt.Sprintf("cannot read included %v", err)})
	default:
		r.file(target, data, stack)
	}
}

func (r *sudoersReader) dir(from string, line int, dir string, stack []string) {
	ents, err := r.env.FS().ReadDir(r.ctx, dir, hostfs.Spec{})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.s.Notes = append(r.s.Notes, fmt.Sprintf("%s:%d includes directory %s, which does not exist", from, line, dir))
		return
	case err != nil:
		r.s.Problems = append(r.s.Problems, Problem{File: from, Line: line, Msg: fmt.Sprintf("cannot list included directory %v", err)})
		return
	}
	// Entries come sorted by name, byte-wise: sudo's lexical order.
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, "~") || strings.Contains(name, ".") {
			continue
		}
		full := path.Join(dir, name)
		st, err := r.env.FS().Stat(r.ctx, full, hostfs.Spec{})
		if err != nil || !st.Info.Mode.IsRegular() {
			continue // sudo reads regular files only
		}
		r.include(from, line, full, stack)
	}
}

// CloudInitFile is where cloud-init writes the sudo rule of the users it
// creates (cc_users_groups, `sudo:` in user-data; the default user of cloud
// images gets "ALL=(ALL) NOPASSWD:ALL").
const CloudInitFile = "/etc/sudoers.d/90-cloud-init-users"

// writtenByCloudInit reports whether a sudoers file was written by
// cloud-init: its usual name, or the header cloud-init's make_header puts on
// the first line ("# Created by cloud-init v. 23.1.1 on ...").
func writtenByCloudInit(file string, data []byte) bool {
	if file == CloudInitFile {
		return true
	}
	head, _, _ := strings.Cut(string(data), "\n")
	return strings.HasPrefix(head, "# Created by cloud-init")
}
