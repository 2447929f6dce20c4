package agent

import (
	"context"
	"os"
	"strings"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"

	"github.com/vigie-agent/vigie/host/scaleway"
)

// Host identifies the machine a report is about.
type Host struct {
	Hostname  string `json:"hostname"`
	MachineID string `json:"machine_id,omitempty"`
	OS        OS     `json:"os"`
	Kernel    string `json:"kernel,omitempty"`
	Cloud     *Cloud `json:"cloud,omitempty"`
}

// Cloud is the instance as the provider knows it: what a fleet view keys
// on, since hostnames repeat and machine-ids are rewritten by images.
type Cloud struct {
	Provider       string `json:"provider"`
	ServerID       string `json:"server_id,omitempty"`
	Zone           string `json:"zone,omitempty"`
	CommercialType string `json:"commercial_type,omitempty"`
}

// hostWithCloud adds the metadata API's identity when this is a Scaleway
// instance; the API is asked at most once per run (the client caches).
func hostWithCloud(ctx context.Context, env *host.Env, md *scaleway.Client) Host {
	h := HostIdentity(ctx, env)
	if md == nil {
		return h
	}
	if m, err := md.Get(ctx, env); err == nil && m != nil {
		h.Cloud = &Cloud{Provider: "scaleway", ServerID: m.ID, Zone: m.ZoneName(), CommercialType: m.CommercialType}
	}
	return h
}

// OS is the part of os-release(5) a fleet view needs.
type OS struct {
	ID         string `json:"id,omitempty"`
	VersionID  string `json:"version_id,omitempty"`
	PrettyName string `json:"pretty_name,omitempty"`
}

// HostIdentity reads the host's identity from the inspected system.
func HostIdentity(ctx context.Context, env *host.Env) Host {
	h := Host{}
	if b, err := env.ReadFile(ctx, "/etc/hostname", hostfs.Small); err == nil {
		h.Hostname = strings.TrimSpace(string(b))
	}
	if env.Live() || h.Hostname == "" {
		if name, err := os.Hostname(); err == nil {
			h.Hostname = name
		}
	}
	if b, err := env.ReadFile(ctx, "/etc/machine-id", hostfs.Small); err == nil {
		h.MachineID = strings.TrimSpace(string(b))
	}
	if b, err := hostfs.ReadFile(ctx, env.Proc+"/sys/kernel/osrelease", hostfs.Small); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	rel := host.ReadOSRelease(ctx, env)
	h.OS = OS{ID: rel["ID"], VersionID: rel["VERSION_ID"], PrettyName: rel["PRETTY_NAME"]}
	return h
}
