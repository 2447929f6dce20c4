package ssh

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vigie-agent/vigie/host/hostfs"
)

// Directive is one keyword line of sshd_config, with where it stands.
type Directive struct {
	Keyword string // canonical, lower-case (aliases resolved)
	Args    []string
	File    string
	Line    int
}

// Value joins the arguments the way `sshd -T` prints them.
func (d Directive) Value() string { return strings.Join(d.Args, " ") }

// MatchBlock is a conditional section. Its directives apply only to
// connections its criteria select, so a block can re-enable what the global
// section turned off.
type MatchBlock struct {
	Criteria   string
	File       string
	Line       int
	Directives []Directive
}

// ConfigFiles is sshd_config as written on disk: the global directives in the
// order sshd reads them (Includes expanded in place) and the Match blocks.
type ConfigFiles struct {
	Global  []Directive
	Matches []MatchBlock
	Files   []string // every file read, in order
}

// First returns the directive that decides a single-valued keyword: sshd
// keeps the first value it reads, which is why cloud images' drop-ins under
// sshd_config.d override the main file.
func (c *ConfigFiles) First(keyword string) (Directive, bool) {
	for _, d := range c.Global {
		if d.Keyword == keyword {
			return d, true
		}
	}
	return Directive{}, false
}

// aliases maps deprecated or alternative keyword spellings to the name
// `sshd -T` prints.
var aliases = map[string]string{
	"challengeresponseauthentication": "kbdinteractiveauthentication",
	"pubkeyacceptedkeytypes":          "pubkeyacceptedalgorithms",
	"hostbasedacceptedkeytypes":       "hostbasedacceptedalgorithms",
	"skeyauthentication":              "kbdinteractiveauthentication",
	"dsaauthentication":               "pubkeyauthentication",
	"rsaauthentication":               "pubkeyauthentication",
}

// Canonical returns the canonical lower-case spelling of a keyword.
func Canonical(keyword string) string {
	k := strings.ToLower(keyword)
	if a, ok := aliases[k]; ok {
		return a
	}
	return k
}

const (
	maxIncludeDepth = 16
	// maxConfigFiles bounds the files one parse reads: Include patterns can
	// fan out (Include * *), and a loop must not cost exponential time.
	maxConfigFiles = 256
)

// ParseConfigFiles reads the main sshd_config at path of the system fsys
// reads and every file it Includes. sshdir is where relative Include
// patterns resolve on that system ("/etc/ssh").
func ParseConfigFiles(ctx context.Context, fsys hostfs.FS, path, sshdir string) (*ConfigFiles, error) {
	p := &configParser{ctx: ctx, fs: fsys, sshdir: sshdir, cfg: &ConfigFiles{}, open: map[string]bool{}}
	if err := p.file(path, 0, nil); err != nil {
		return nil, err
	}
	return p.cfg, nil
}

type configParser struct {
	ctx    context.Context
	fs     hostfs.FS
	sshdir string
	cfg    *ConfigFiles
	open   map[string]bool // files being parsed: an Include of one of them is a loop
}

// file parses one file. When match is non-nil the file was included from
// inside a Match block and its directives belong to that block.
func (p *configParser) file(name string, depth int, match *MatchBlock) error {
	if depth > maxIncludeDepth {
		return fmt.Errorf("include nested more than %d deep at %s", maxIncludeDepth, name)
	}
	if p.open[name] {
		return fmt.Errorf("include loop: %s includes itself", name)
	}
	if len(p.cfg.Files) >= maxConfigFiles {
		return fmt.Errorf("more than %d configuration files: not reading %s", maxConfigFiles, name)
	}
	p.open[name] = true
	defer delete(p.open, name)
	// Only regular files of a bounded size (hostfs): an Include reaching
	// a FIFO or a device would block the read forever.
	data, err := p.fs.ReadFile(p.ctx, name, hostfs.Config)
	if err != nil {
		return fmt.Errorf("read %w", err)
	}
	p.cfg.Files = append(p.cfg.Files, name)
	var block *MatchBlock // a Match block opened in this file ends with it
	flush := func() {
		if block != nil {
			p.cfg.Matches = append(p.cfg.Matches, *block)
			block = nil
		}
	}
	for i, raw := range strings.Split(string(data), "\n") {
		lineno := i + 1
		words, err := splitLine(raw)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, lineno, err)
		}
		if len(words) == 0 {
			continue
		}
		kw := Canonical(words[0])
		args := words[1:]
		switch kw {
		case "match":
			if match != nil {
				return fmt.Errorf("%s:%d: Match inside a Match block", name, lineno)
			}
			flush()
			block = &MatchBlock{Criteria: strings.Join(args, " "), File: name, Line: lineno}
			continue
		case "include":
			target := match
			if block != nil {
				target = block
			}
			if err := p.include(args, depth, target, name, lineno); err != nil {
				return err
			}
			continue
		}
		d := Directive{Keyword: kw, Args: args, File: name, Line: lineno}
		switch {
		case block != nil:
			block.Directives = append(block.Directives, d)
		case match != nil:
			match.Directives = append(match.Directives, d)
		default:
			p.cfg.Global = append(p.cfg.Global, d)
		}
	}
	flush()
	return nil
}

func (p *configParser) include(patterns []string, depth int, match *MatchBlock, from string, line int) error {
	if len(patterns) == 0 {
		return fmt.Errorf("%s:%d: Include without a file", from, line)
	}
	for _, pat := range patterns {
		if !filepath.IsAbs(pat) {
			pat = filepath.Join(p.sshdir, pat)
		}
		matches, err := filepath.Glob(p.fs.HostPath(pat))
		if err != nil {
			return fmt.Errorf("%s:%d: Include %s: %w", from, line, pat, err)
		}
		sort.Strings(matches)
		for _, m := range matches {
			name := m
			if prefix := p.fs.HostPath("/"); prefix != "/" {
				name = "/" + strings.TrimPrefix(strings.TrimPrefix(m, strings.TrimSuffix(prefix, "/")), "/")
			}
			if info, err := os.Stat(m); err == nil && info.IsDir() {
				continue
			}
			if err := p.file(name, depth+1, match); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue // raced with a removal; sshd would skip it too
				}
				return err
			}
		}
	}
	return nil
}

// SplitLine splits a sshd_config line into words the way sshd does, for a
// caller that rewrites a file line by line.
func SplitLine(line string) ([]string, error) { return splitLine(line) }

// splitLine splits a config line into words the way sshd does: whitespace or
// a single '=' separates the keyword, double quotes group, and a word
// starting with '#' ends the line.
func splitLine(line string) ([]string, error) {
	line = strings.TrimRight(line, "\r")
	var words []string
	i := 0
	first := true
	for i < len(line) {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i >= len(line) {
			break
		}
		if line[i] == '#' {
			break
		}
		var w strings.Builder
		if line[i] == '"' {
			i++
			end := strings.IndexByte(line[i:], '"')
			if end < 0 {
				return nil, errors.New("unterminated quote")
			}
			w.WriteString(line[i : i+end])
			i += end + 1
		} else {
			for i < len(line) && line[i] != ' ' && line[i] != '\t' && !(first && line[i] == '=') {
				w.WriteByte(line[i])
				i++
			}
		}
		words = append(words, w.String())
		if first {
			first = false
			// "Keyword=value" and "Keyword = value" both separate here.
			for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
				i++
			}
			if i < len(line) && line[i] == '=' {
				i++
			}
		}
	}
	return words, nil
}
