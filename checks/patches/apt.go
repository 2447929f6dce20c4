package patches

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/vigie-agent/vigie/internal/textbound"
)

// isSecurityArchive reports whether an apt archive (suite) carries security
// updates: Debian's "stable-security" and "oldstable-security" (whichever
// release they currently name), "bookworm-security", Ubuntu's
// "noble-security". The suffix decides, never the codename.
func isSecurityArchive(a string) bool {
	return strings.HasSuffix(a, "-security") || strings.HasSuffix(a, "/updates") // Debian <= 10 named it "buster/updates"
}

// "Inst NAME [OLD] (NEW ORIGIN:VERSION/ARCHIVE, ... [ARCH])" as printed by
// apt-get -s; OLD is absent for a package newly pulled in.
var instLine = regexp.MustCompile(`^Inst (\S+) (?:\[([^\]]*)\] )?\((\S+) (.*) \[([^\]]+)\]\)`)

// ParseSimulate reads `apt-get -s dist-upgrade` output (LANG=C).
func ParseSimulate(out []byte) ([]Update, error) {
	var ups []Update
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	sawHeader := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "Reading package lists") {
			sawHeader = true
		}
		if !strings.HasPrefix(line, "Inst ") {
			continue
		}
		m := instLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("unexpected apt-get -s line %q", textbound.Truncate(line, 120))
		}
		u := Update{Name: m[1], From: m[2], To: m[3], Arch: m[5]}
		for _, origin := range strings.Split(m[4], ", ") {
			// LABEL:VERSION/ARCHIVE, or LABEL:ARCHIVE when the Release file
			// has no Version: the archive is after the last '/', else after
			// the label.
			if i := strings.LastIndexByte(origin, '/'); i >= 0 {
				u.Archives = append(u.Archives, origin[i+1:])
			} else if _, a, ok := strings.Cut(origin, ":"); ok {
				u.Archives = append(u.Archives, a)
			}
		}
		u.Security = anySecurity(u.Archives)
		ups = append(ups, u)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read apt-get -s output: %w", err)
	}
	if !sawHeader && len(ups) == 0 {
		return nil, fmt.Errorf("output does not look like apt-get -s: %q", textbound.Truncate(string(out), 120))
	}
	return ups, nil
}

// "NAME/ARCHIVE[,ARCHIVE...] NEW ARCH [upgradable from: OLD]"
var listLine = regexp.MustCompile(`^([^/\s]+)/(\S+) (\S+) (\S+) \[upgradable from: ([^\]]+)\]$`)

// ParseListUpgradable reads `apt list --upgradable` output (LANG=C).
func ParseListUpgradable(out []byte) ([]Update, error) {
	var ups []Update
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	sawHeader := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			continue
		case line == "Listing..." || line == "Listing... Done":
			sawHeader = true
			continue
		case strings.HasPrefix(line, "WARNING:"), strings.HasPrefix(line, "N: "):
			continue
		}
		m := listLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("unexpected apt list line %q", textbound.Truncate(line, 120))
		}
		u := Update{Name: m[1], Archives: strings.Split(m[2], ","), To: m[3], Arch: m[4], From: m[5]}
		u.Security = anySecurity(u.Archives)
		ups = append(ups, u)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read apt list output: %w", err)
	}
	if !sawHeader && len(ups) == 0 {
		return nil, fmt.Errorf("output does not look like apt list: %q", textbound.Truncate(string(out), 120))
	}
	return ups, nil
}

func anySecurity(archives []string) bool {
	for _, a := range archives {
		if isSecurityArchive(a) {
			return true
		}
	}
	return false
}

// AptConfig is `apt-config dump`: scalar keys, and list keys ("Key::")
// with their entries.
type AptConfig struct {
	Values map[string]string
	Lists  map[string][]string
}

// ParseAptConfig reads `apt-config dump` output: `Key "value";` lines, list
// entries written `Key:: "value";`.
func ParseAptConfig(out []byte) (AptConfig, error) {
	c := AptConfig{Values: map[string]string{}, Lists: map[string][]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		key, rest, ok := strings.Cut(line, " ")
		if !ok || !strings.HasSuffix(rest, ";") || !strings.HasPrefix(rest, `"`) {
			return c, fmt.Errorf("apt-config dump line %d: unexpected %q", n, textbound.Truncate(line, 80))
		}
		val := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSuffix(rest, ";"), `"`), `"`)
		if strings.HasSuffix(key, "::") {
			k := strings.TrimSuffix(key, "::")
			c.Lists[k] = append(c.Lists[k], val)
			continue
		}
		c.Values[key] = val
	}
	return c, sc.Err()
}
