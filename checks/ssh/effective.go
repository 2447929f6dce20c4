package ssh

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"strings"

	"github.com/vigie-agent/vigie/internal/textbound"
)

// Settings is an effective sshd configuration: keyword to values, one value
// per line sshd would print (multi-valued keywords such as hostkey and
// listenaddress have several).
type Settings map[string][]string

// Get returns the single value of a keyword, or "" when it is unset.
func (s Settings) Get(keyword string) string {
	if v := s[keyword]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// List splits a comma-separated value such as ciphers or
// pubkeyacceptedalgorithms.
func (s Settings) List(keyword string) []string {
	return splitComma(s.Get(keyword))
}

func splitComma(v string) []string {
	var out []string
	for _, a := range strings.Split(v, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

const maxSshdTOutput = 1 << 20

// ParseSshdT reads the output of `sshd -T`: one "keyword value" per line.
// It rejects output that does not look like sshd's, so an error message
// printed on stdout is never mistaken for a configuration.
func ParseSshdT(out []byte) (Settings, error) {
	if len(out) > maxSshdTOutput {
		return nil, fmt.Errorf("sshd -T output too large (%d bytes)", len(out))
	}
	s := Settings{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), maxSshdTOutput)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		kw, val, _ := strings.Cut(line, " ")
		if !isKeyword(kw) {
			return nil, fmt.Errorf("sshd -T line %d: unexpected %q", n, textbound.Truncate(line, 80))
		}
		s[kw] = append(s[kw], val)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read sshd -T output: %w", err)
	}
	for _, required := range []string{"port", "passwordauthentication", "permitrootlogin"} {
		if _, ok := s[required]; !ok {
			return nil, fmt.Errorf("sshd -T output lacks %s", required)
		}
	}
	return s, nil
}

func isKeyword(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// multiValued keywords accumulate across lines instead of keeping the
// first value.
var multiValued = map[string]bool{
	"hostkey": true, "listenaddress": true, "port": true, "acceptenv": true,
	"subsystem": true, "hostcertificate": true, "allowusers": true, "denyusers": true,
	"allowgroups": true, "denygroups": true,
}

// enumKeywords take a case-insensitive word that sshd -T prints in lower
// case; other values (paths, patterns) keep their case.
var enumKeywords = map[string]bool{
	"passwordauthentication": true, "kbdinteractiveauthentication": true, "permitrootlogin": true,
	"pubkeyauthentication": true, "usepam": true, "permitemptypasswords": true,
	"hostbasedauthentication": true, "addressfamily": true, "gssapiauthentication": true,
	"kerberosauthentication": true, "strictmodes": true,
}

// FromFiles computes the effective global settings from the files alone,
// for hosts where `sshd -T` cannot run (not root, no host keys, no sshd).
// It applies sshd's first-value-wins rule over the defaults of OpenSSH 9.
func FromFiles(cfg *ConfigFiles) Settings {
	s := Settings{}
	for k, v := range defaults {
		s[k] = append([]string(nil), v...)
	}
	seen := map[string]bool{}
	var ports []string
	var listens []string
	for _, d := range cfg.Global {
		kw := d.Keyword
		switch {
		case kw == "port":
			ports = append(ports, d.Args...)
		case kw == "listenaddress":
			listens = append(listens, d.Args...)
		case multiValued[kw]:
			if !seen[kw] {
				s[kw] = nil
			}
			s[kw] = append(s[kw], d.Value())
		case seen[kw]:
			continue
		default:
			v := d.Value()
			switch {
			case algorithmLists[kw]:
				v = resolveAlgorithms(defaults[kw], v)
			case enumKeywords[kw]:
				v = strings.ToLower(v)
			}
			if kw == "permitrootlogin" && v == "without-password" {
				v = "prohibit-password"
			}
			s[kw] = []string{v}
		}
		seen[kw] = true
	}
	if len(ports) > 0 {
		s["port"] = ports
	}
	s["listenaddress"] = listenAddresses(listens, s["port"], s.Get("addressfamily"))
	return s
}

// listenAddresses expands ListenAddress and Port the way sshd -T prints them.
func listenAddresses(listens, ports []string, family string) []string {
	var out []string
	if len(listens) == 0 {
		switch family {
		case "inet":
			listens = []string{"0.0.0.0"}
		case "inet6":
			listens = []string{"::"}
		default:
			listens = []string{"::", "0.0.0.0"}
		}
	}
	for _, l := range listens {
		host, port := splitHostPortLoose(l)
		if port != "" {
			out = append(out, joinHostPort(host, port))
			continue
		}
		for _, p := range ports {
			out = append(out, joinHostPort(host, p))
		}
	}
	return out
}

func splitHostPortLoose(s string) (host, port string) {
	if strings.HasPrefix(s, "[") {
		if end := strings.Index(s, "]"); end > 0 {
			host = s[1:end]
			if rest := s[end+1:]; strings.HasPrefix(rest, ":") {
				port = rest[1:]
			}
			return host, port
		}
	}
	if strings.Count(s, ":") == 1 {
		h, p, _ := strings.Cut(s, ":")
		return h, p
	}
	return s, ""
}

func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

var algorithmLists = map[string]bool{
	"ciphers": true, "macs": true, "kexalgorithms": true, "hostkeyalgorithms": true,
	"pubkeyacceptedalgorithms": true, "casignaturealgorithms": true, "hostbasedacceptedalgorithms": true,
}

// resolveAlgorithms applies sshd's list syntax: "+a,b" appends to the
// default, "-pat" removes matching entries, "^a" prepends, anything else
// replaces.
func resolveAlgorithms(def []string, value string) string {
	base := splitComma(strings.Join(def, ","))
	if value == "" {
		return strings.Join(base, ",")
	}
	switch value[0] {
	case '+':
		return strings.Join(appendNew(base, splitComma(value[1:])), ",")
	case '^':
		return strings.Join(appendNew(splitComma(value[1:]), base), ",")
	case '-':
		var out []string
		pats := splitComma(value[1:])
		for _, a := range base {
			if !matchAny(pats, a) {
				out = append(out, a)
			}
		}
		return strings.Join(out, ",")
	}
	return value
}

func appendNew(list, more []string) []string {
	out := append([]string(nil), list...)
	for _, m := range more {
		dup := false
		for _, a := range out {
			if a == m {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, m)
		}
	}
	return out
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}
