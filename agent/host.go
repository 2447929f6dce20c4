package agent

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"

	"github.com/vigie-agent/vigie/checks"
)

// Host identifies the machine a report is about.
type Host struct {
	Hostname  string `json:"hostname"`
	MachineID string `json:"machine_id,omitempty"`
	OS        OS     `json:"os"`
	Kernel    string `json:"kernel,omitempty"`
}

// OS is the part of os-release(5) a fleet view needs.
type OS struct {
	ID         string `json:"id,omitempty"`
	VersionID  string `json:"version_id,omitempty"`
	PrettyName string `json:"pretty_name,omitempty"`
}

// HostIdentity reads the host's identity from the inspected system.
func HostIdentity(env *checks.Env) Host {
	h := Host{}
	if b, err := os.ReadFile(env.Path("/etc/hostname")); err == nil {
		h.Hostname = strings.TrimSpace(string(b))
	}
	if env.Root == "" || env.Root == "/" || h.Hostname == "" {
		if name, err := os.Hostname(); err == nil {
			h.Hostname = name
		}
	}
	if b, err := os.ReadFile(env.Path("/etc/machine-id")); err == nil {
		h.MachineID = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(env.Proc + "/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	data, err := os.ReadFile(env.Path("/etc/os-release"))
	if err != nil {
		data, _ = os.ReadFile(env.Path("/usr/lib/os-release"))
	}
	rel := ParseOSRelease(data)
	h.OS = OS{ID: rel["ID"], VersionID: rel["VERSION_ID"], PrettyName: rel["PRETTY_NAME"]}
	return h
}

// ParseOSRelease reads os-release(5): KEY=value lines, values optionally
// quoted with shell quoting rules.
func ParseOSRelease(data []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			continue
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			if v[0] == '"' {
				if u, err := strconv.Unquote(v); err == nil {
					v = u
				} else {
					v = v[1 : len(v)-1]
				}
			} else {
				v = v[1 : len(v)-1]
			}
		}
		out[k] = v
	}
	return out
}
