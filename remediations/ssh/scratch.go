package ssh

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	sshcheck "github.com/vigie-agent/vigie/checks/ssh"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"
)

// maxIncludeDepth is sshd's own bound on nested Include (READCONF_MAX_DEPTH).
const maxIncludeDepth = 16

// scratch is a copy of sshd's configuration in a private directory, in
// which some files read other content (the fix's planned files) or are
// left out (vigie's drop-in), so the real sshd -T can say what a
// configuration that is not in force would do. Every file read gets a copy
// under a name of its own, and its Include lines name the copies of what
// they match, in sshd's order.
type scratch struct {
	ctx    context.Context
	env    *host.Env
	opt    Options
	dir    string
	sshdir string
	// override holds the content a file reads instead of its own; a nil
	// value leaves the file out.
	override map[string][]byte
	copies   map[string]string
}

// newScratch makes the scratch directory; close removes it.
func newScratch(ctx context.Context, env *host.Env, opt Options, override map[string][]byte) (*scratch, error) {
	dir, err := os.MkdirTemp("", "vigie-sshd-")
	if err != nil {
		return nil, err
	}
	return &scratch{ctx: ctx, env: env, opt: opt, dir: dir, sshdir: filepath.Dir(opt.Check.ConfigPath),
		override: override, copies: map[string]string{}}, nil
}

func (s *scratch) close() { os.RemoveAll(s.dir) }

// main writes the copies and returns the main file's, for sshd -f.
func (s *scratch) main() (string, error) { return s.copyOf(s.opt.Check.ConfigPath, 0) }

// file writes a private file into the scratch directory (a host key that
// does not exist yet) and returns its path.
func (s *scratch) file(name string, data []byte) (string, error) {
	p := filepath.Join(s.dir, name)
	return p, os.WriteFile(p, data, 0o600)
}

// copyOf returns the copy of one configuration file, writing it first.
func (s *scratch) copyOf(path string, depth int) (string, error) {
	if c, ok := s.copies[path]; ok {
		return c, nil
	}
	if depth > maxIncludeDepth {
		return "", fmt.Errorf("%s: Include nested more than %d deep", path, maxIncludeDepth)
	}
	name := filepath.Join(s.dir, strconv.Itoa(len(s.copies))+".conf")
	s.copies[path] = name
	data, ok := s.override[path]
	if !ok {
		var err error
		if data, err = s.env.ReadFile(s.ctx, path, hostfs.Config); err != nil {
			return "", fmt.Errorf("read %w", err)
		}
	}
	lines := strings.Split(string(data), "\n")
	for i, raw := range lines {
		words, err := sshcheck.SplitLine(raw)
		if err != nil || len(words) == 0 || !strings.EqualFold(words[0], "include") {
			continue
		}
		var repl []string
		for _, pat := range words[1:] {
			names, err := s.matches(pat)
			if err != nil {
				return "", fmt.Errorf("%s: %w", path, err)
			}
			for _, m := range names {
				c, err := s.copyOf(m, depth+1)
				if err != nil {
					return "", err
				}
				repl = append(repl, c)
			}
		}
		if len(repl) == 0 {
			lines[i] = "# (vigie: this Include reads nothing here)"
			continue
		}
		lines[i] = "Include " + strings.Join(repl, " ")
	}
	if err := os.WriteFile(name, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		return "", err
	}
	return name, nil
}

// matches lists the files an Include pattern reads, as paths of the
// inspected system in sshd's (lexical) order: the files that exist, plus
// an overriding file the pattern names that does not exist yet, minus the
// files left out.
func (s *scratch) matches(pat string) ([]string, error) {
	if !filepath.IsAbs(pat) {
		pat = filepath.Join(s.sshdir, pat)
	}
	found, err := filepath.Glob(s.env.Path(pat))
	if err != nil {
		return nil, fmt.Errorf("include pattern %s: %w", pat, err)
	}
	root := strings.TrimSuffix(s.env.Path("/"), "/")
	var names []string
	for _, m := range found {
		if root != "" {
			m = "/" + strings.TrimPrefix(strings.TrimPrefix(m, root), "/")
		}
		names = append(names, m)
	}
	for p := range s.override {
		if ok, _ := filepath.Match(pat, p); ok && !slices.Contains(names, p) {
			names = append(names, p)
		}
	}
	slices.Sort(names)
	return slices.DeleteFunc(names, func(n string) bool {
		c, ok := s.override[n]
		return ok && c == nil
	}), nil
}
