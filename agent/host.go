package agent

import (
	"context"
	"os"
	"strings"

	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"

	"github.com/vigie-agent/vigie/host/scaleway"
)

// hostWithCloud adds the metadata API's identity when this is a Scaleway
// instance; the API is asked at most once per run (the client caches).
func hostWithCloud(ctx context.Context, env *host.Env, md *scaleway.Client) report.Host {
	h := HostIdentity(ctx, env)
	if md == nil {
		return h
	}
	if m, err := md.Get(ctx, env); err == nil && m != nil {
		h.Cloud = &report.Cloud{Provider: "scaleway", ServerID: m.ID, Zone: m.ZoneName(), CommercialType: m.CommercialType}
	}
	return h
}

// HostIdentity reads the host's identity from the inspected system.
func HostIdentity(ctx context.Context, env *host.Env) report.Host {
	h := report.Host{}
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
	h.OS = report.OS{ID: rel["ID"], VersionID: rel["VERSION_ID"], PrettyName: rel["PRETTY_NAME"]}
	return h
}
