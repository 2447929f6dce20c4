package agent

import (
	"os"
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
	rel := checks.ParseOSRelease(data)
	h.OS = OS{ID: rel["ID"], VersionID: rel["VERSION_ID"], PrettyName: rel["PRETTY_NAME"]}
	return h
}
