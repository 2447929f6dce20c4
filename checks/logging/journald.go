package logging

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"
)

// Setting is one assignment of a systemd configuration file.
type Setting struct {
	Section string
	Key     string
	Value   string
	Line    int // first line of the assignment
}

// ConfError is a line of a configuration file systemd would ignore.
type ConfError struct {
	Line int
	Msg  string
}

// ParseConf reads a systemd configuration file as systemd.syntax(7)
// describes it: [Section] headers, Key=Value assignments with white space
// around both trimmed, "#" and ";" comment lines, and a trailing backslash
// joining a line to the next (the backslash becomes a space; comment lines
// inside a continuation are skipped). Lines systemd would ignore are
// returned as errors.
func ParseConf(data []byte) ([]Setting, []ConfError) {
	var out []Setting
	var errs []ConfError
	section := ""
	var cont strings.Builder
	start := 0
	lines := strings.Split(string(data), "\n")
	for i, raw := range lines {
		n := i + 1
		line := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if line == "" && cont.Len() == 0 {
			continue
		}
		if line != "" && (line[0] == '#' || line[0] == ';') {
			continue // also inside a continuation
		}
		if cont.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(line, "\\") && i < len(lines)-1 {
			cont.WriteString(line[:len(line)-1])
			cont.WriteByte(' ')
			continue
		}
		cont.WriteString(line)
		line = strings.TrimSpace(cont.String())
		cont.Reset()
		switch {
		case line == "":
		case line[0] == '[':
			if !strings.HasSuffix(line, "]") || len(line) < 3 {
				errs = append(errs, ConfError{start, "invalid section header " + line})
				section = ""
				continue
			}
			section = line[1 : len(line)-1]
		default:
			k, v, ok := strings.Cut(line, "=")
			k = strings.TrimSpace(k)
			switch {
			case !ok:
				errs = append(errs, ConfError{start, "missing '=', line ignored"})
			case k == "":
				errs = append(errs, ConfError{start, "missing key name, line ignored"})
			case section == "":
				errs = append(errs, ConfError{start, "assignment outside of a section, ignored"})
			default:
				out = append(out, Setting{Section: section, Key: k, Value: strings.TrimSpace(v), Line: start})
			}
		}
	}
	return out, errs
}

// Storage values journald accepts, and its default in the main namespace.
var storageValues = map[string]bool{"volatile": true, "persistent": true, "auto": true, "none": true}

// DefaultStorage is journald's compiled-in Storage= for the default
// namespace.
const DefaultStorage = "auto"

// JournalDir is where journald keeps persistent logs.
const JournalDir = "/var/log/journal"

// journaldMains are the places of the main journald.conf, the first found
// is read: /etc, and on newer systemd the vendor copies below it.
var journaldMains = []string{"/etc/systemd/journald.conf", "/run/systemd/journald.conf", "/usr/local/lib/systemd/journald.conf", "/usr/lib/systemd/journald.conf"}

// journaldDropins are the drop-in directories, highest precedence first: a
// file in /etc masks the file of the same name further down.
var journaldDropins = []string{"/etc/systemd/journald.conf.d", "/run/systemd/journald.conf.d", "/usr/local/lib/systemd/journald.conf.d", "/usr/lib/systemd/journald.conf.d"}

// Journald is journald's effective Storage= and where it was set.
type Journald struct {
	Storage    string   // effective value
	File       string   // file that set it, "" for the compiled-in default
	Line       int      // line in File
	Files      []string // configuration files read, in order
	Ignored    []string // assignments journald ignores ("file:line: why")
	JournalDir bool     // /var/log/journal exists and is a directory
	DirNote    string   // what is at /var/log/journal otherwise
	Err        string   // a configuration file could not be read
}

// ReadJournald reads the main journald.conf and its drop-ins under
// env.Root in journald's order: the main file first, then every *.conf of
// the drop-in directories sorted by file name across directories (a name
// in /etc masking the same name in /run, /usr/local/lib and /usr/lib);
// the last Storage= in [Journal] wins.
func ReadJournald(ctx context.Context, env *host.Env) Journald {
	j := Journald{Storage: DefaultStorage}
	var files []string
	for _, m := range journaldMains {
		if env.FS().Exists(ctx, m) {
			files = append(files, m)
			break
		}
	}
	byName := map[string]string{}
	for _, dir := range journaldDropins {
		ents, err := env.FS().ReadDir(ctx, dir, hostfs.Spec{})
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				j.Err = fmt.Sprintf("list %v", err)
				return j
			}
			continue
		}
		for _, e := range ents {
			if !strings.HasSuffix(e.Name(), ".conf") || e.IsDir() {
				continue
			}
			if _, masked := byName[e.Name()]; !masked {
				byName[e.Name()] = path.Join(dir, e.Name())
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		files = append(files, byName[n])
	}
	for _, file := range files {
		data, err := env.ReadFile(ctx, file, hostfs.Config)
		if err != nil {
			j.Err = fmt.Sprintf("read %v", err)
			return j
		}
		j.Files = append(j.Files, file)
		settings, errs := ParseConf(data)
		for _, e := range errs {
			j.Ignored = append(j.Ignored, fmt.Sprintf("%s:%d: %s", file, e.Line, e.Msg))
		}
		for _, s := range settings {
			if s.Section != "Journal" || s.Key != "Storage" {
				continue
			}
			switch {
			case s.Value == "":
				j.Storage, j.File, j.Line = DefaultStorage, file, s.Line // an empty assignment resets
			case storageValues[s.Value]:
				j.Storage, j.File, j.Line = s.Value, file, s.Line
			default:
				j.Ignored = append(j.Ignored, fmt.Sprintf("%s:%d: Storage=%s is not a valid value, journald ignores it", file, s.Line, s.Value))
			}
		}
	}
	st, err := os.Stat(env.Path(JournalDir))
	switch {
	case err == nil && st.IsDir():
		j.JournalDir = true
	case err == nil:
		j.DirNote = JournalDir + " exists but is not a directory"
	case errors.Is(err, fs.ErrNotExist):
		j.DirNote = JournalDir + " does not exist"
	default:
		j.DirNote = fmt.Sprintf("%s: %v", JournalDir, err)
	}
	return j
}
