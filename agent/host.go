package agent

import (
	"bytes"
	"context"
	"os"
	"regexp"
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
		h.Cloud = scalewayCloud(m)
	}
	return h
}

// scalewayCloud is the instance's identity and exposure as the metadata
// gives them.
func scalewayCloud(m *scaleway.Metadata) *report.Cloud {
	c := &report.Cloud{Provider: "scaleway", ServerID: m.ID, Zone: m.ZoneName(), CommercialType: m.CommercialType}
	x := m.Exposure()
	if x.SecurityGroupID != "" || x.SecurityGroupName != "" {
		c.SecurityGroup = &report.SecurityGroup{ID: x.SecurityGroupID, Name: x.SecurityGroupName}
	}
	c.PublicIPv4, c.PublicIPv6, c.Tags = x.PublicIPv4, x.PublicIPv6, x.Tags
	for _, n := range x.PrivateNetworks {
		c.PrivateNetworks = append(c.PrivateNetworks, report.PrivateNetwork{ID: n.PrivateNetworkID, NICID: n.ID, MACAddress: n.MACAddress})
	}
	return c
}

// HostIdentity reads the host's identity from the inspected system. An
// image's is what its files say, and only that: no kernel of it runs, and
// the name and kernel of the machine vigie runs on are not the image's.
func HostIdentity(ctx context.Context, env *host.Env) report.Host {
	h := report.Host{}
	if b, err := env.ReadFile(ctx, "/etc/hostname", hostfs.Small); err == nil {
		h.Hostname = strings.TrimSpace(string(b))
	}
	if !env.Image && (env.Live() || h.Hostname == "") {
		if name, err := os.Hostname(); err == nil {
			h.Hostname = name
		}
	}
	if b, err := env.ReadFile(ctx, "/etc/machine-id", hostfs.Small); err == nil && machineID.Match(bytes.TrimSpace(b)) {
		// Images hold an empty file, or "uninitialized", until first boot.
		h.MachineID = string(bytes.TrimSpace(b))
	}
	if b, err := hostfs.ReadFile(ctx, env.Proc+"/sys/kernel/osrelease", hostfs.Small); err == nil && !env.Image {
		h.Kernel = strings.TrimSpace(string(b))
	}
	rel := host.ReadOSRelease(ctx, env)
	h.OS = report.OS{ID: rel["ID"], VersionID: rel["VERSION_ID"], PrettyName: rel["PRETTY_NAME"]}
	return h
}

// machineID is what machine-id(5) holds once set: 32 lower-case hex digits.
var machineID = regexp.MustCompile(`^[0-9a-f]{32}$`)
