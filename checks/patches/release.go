package patches

import (
	"bufio"
	"bytes"
	"strings"
	"unicode"
)

// Release is the header of an apt Release or InRelease file: who publishes
// the archive and which suite it is.
type Release struct {
	Origin, Label, Suite, Codename string
}

// maxReleaseHead is how much of a Release file is read: its header fields
// come first, before hash lists that run to hundreds of kilobytes.
const maxReleaseHead = 16 << 10

// ParseRelease reads the header fields of a Release file, or of an
// InRelease file (the same, clearsigned). It stops at the first blank line
// after the fields, at the signature, or after maxReleaseHead bytes.
func ParseRelease(data []byte) Release {
	if len(data) > maxReleaseHead {
		data = data[:maxReleaseHead]
	}
	var r Release
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxReleaseHead)
	started, armor := false, false
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case !started && line == "-----BEGIN PGP SIGNED MESSAGE-----":
			armor = true // "Hash: ..." armor headers, then a blank line
			continue
		case armor:
			if line == "" {
				armor = false
			}
			continue
		case strings.HasPrefix(line, "-----BEGIN PGP SIGNATURE"):
			return r
		case line == "":
			if started {
				return r
			}
			continue
		case line[0] == ' ' || line[0] == '\t':
			continue // a continuation: the hash lists
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		started = true
		val = strings.TrimSpace(val)
		if strings.ContainsFunc(val, unicode.IsControl) {
			continue // not a field value (a lone CR, an escape): never evidence
		}
		switch strings.ToLower(key) {
		case "origin":
			r.Origin = val
		case "label":
			r.Label = val
		case "suite":
			r.Suite = val
		case "codename":
			r.Codename = val
		}
	}
	return r
}

// Security reports whether the archive is where a distribution publishes
// its security updates: Debian's security archive (Label or Origin
// Debian-Security), or a suite or codename ending in -security (Debian's
// bookworm-security, Ubuntu's noble-security pocket).
func (r Release) Security() bool {
	for _, v := range []string{r.Origin, r.Label} {
		if strings.EqualFold(v, "Debian-Security") {
			return true
		}
	}
	for _, v := range []string{r.Suite, r.Codename} {
		if strings.HasSuffix(strings.ToLower(v), "-security") {
			return true
		}
	}
	return false
}

// Name names the archive the way an operator finds it in sources.list:
// origin (and label where it differs), suite (and codename where it
// differs).
func (r Release) Name() string {
	who := r.Origin
	if r.Label != "" && r.Label != r.Origin {
		who = strings.TrimPrefix(who+"/"+r.Label, "/")
	}
	what := r.Suite
	if r.Codename != "" && r.Codename != r.Suite {
		what = strings.TrimSpace(what + " (" + r.Codename + ")")
	}
	return strings.TrimSpace(who + " " + what)
}

// ParseRepoFile reads a yum/dnf .repo file (INI: [id] sections, key=value)
// and returns each repository id with whether it is enabled (dnf's default
// when the file says nothing: yes).
func ParseRepoFile(data []byte) map[string]bool {
	out := map[string]bool{}
	id := ""
	for _, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(raw)
		switch {
		case line == "", line[0] == '#', line[0] == ';':
			continue
		case line[0] == '[' && strings.HasSuffix(line, "]"):
			id = strings.TrimSpace(line[1 : len(line)-1])
			if id == "main" || id == "" {
				id = "" // dnf.conf's global section, not a repository
				continue
			}
			out[id] = true
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok || id == "" || strings.ToLower(strings.TrimSpace(key)) != "enabled" {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(val)) {
		case "0", "no", "false", "off":
			out[id] = false
		default:
			out[id] = true
		}
	}
	return out
}
