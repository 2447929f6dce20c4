// Package scaleway knows the one provider vigie talks to: it detects a
// Scaleway instance from local files only, and reads the instance metadata
// API (server id, zone, commercial type, volumes) when, and only when, the
// detection says Scaleway or the configuration names a metadata URL.
package scaleway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"
)

// DefaultURL is the metadata API, reachable from every Scaleway instance.
const DefaultURL = "http://169.254.42.42/conf?format=json"

// DefaultURLv6 is the same API at its IPv6 address, tried alternately with
// DefaultURL when an attempt fails (an IPv6-only instance has no route to
// 169.254.42.42).
const DefaultURLv6 = "http://[fd00:42::42]/conf?format=json"

// Detection says whether the host is a Scaleway instance, and why.
type Detection struct {
	Scaleway bool
	Evidence string // the file that said so
}

// Detect reads local files only: the DMI vendor, the marker files the
// Scaleway images ship. It never touches the network.
func Detect(ctx context.Context, env *host.Env) Detection {
	if b, err := hostfs.ReadFile(ctx, env.Sys+"/class/dmi/id/sys_vendor", hostfs.Small); err == nil && strings.TrimSpace(string(b)) == "Scaleway" {
		return Detection{true, env.Sys + "/class/dmi/id/sys_vendor = Scaleway"}
	}
	for _, p := range []string{"/var/run/scaleway", "/run/scaleway", "/etc/scw-release"} {
		if env.FS().Exists(ctx, p) {
			return Detection{true, p + " exists"}
		}
	}
	return Detection{}
}

// Metadata is the part of the instance metadata vigie uses.
type Metadata struct {
	ID             string            `json:"id"`
	Name           string            `json:"name"`
	Hostname       string            `json:"hostname"`
	CommercialType string            `json:"commercial_type"`
	Zone           string            `json:"zone"`
	Location       Location          `json:"location"`
	Volumes        map[string]Volume `json:"volumes"`
	// SSHPublicKeys are the project's and the account's SSH keys, and Tags
	// the server's tags, among them AUTHORIZED_KEY=... keys: cloud-init
	// (and scw-fetch-ssh-keys on older images) installs both at every
	// boot (see BootKeys).
	SSHPublicKeys SSHPublicKeys `json:"ssh_public_keys"`
	Tags          Tags          `json:"tags"`
	// What filters and reaches the instance, kept undecoded here: the
	// metadata has carried its addresses in several shapes over the
	// years, and one of an unexpected type must not cost the identity
	// above. Exposure reads them.
	SecurityGroup json.RawMessage `json:"security_group"`
	PublicIP      json.RawMessage `json:"public_ip"`
	PublicIPs     json.RawMessage `json:"public_ips"`
	PublicIPsV4   json.RawMessage `json:"public_ips_v4"`
	PublicIPsV6   json.RawMessage `json:"public_ips_v6"`
	IPv6          json.RawMessage `json:"ipv6"`
	PrivateNICs   json.RawMessage `json:"private_nics"`
}

// Location is where the instance runs.
type Location struct {
	ZoneID     string `json:"zone_id"`
	PlatformID string `json:"platform_id"`
}

// Volume is one volume attached to the instance.
type Volume struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	VolumeType string `json:"volume_type"` // l_ssd, b_ssd, sbs_volume, scratch
	Size       int64  `json:"size"`
}

// ZoneName returns the zone as "fr-par-1", whichever field carries it.
func (m *Metadata) ZoneName() string {
	if m.Zone != "" {
		return m.Zone
	}
	return m.Location.ZoneID
}

// SortedVolumes lists the volumes in attachment order ("0", "1"...).
func (m *Metadata) SortedVolumes() []Volume {
	keys := make([]string, 0, len(m.Volumes))
	for k := range m.Volumes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) < len(keys[j])
		}
		return keys[i] < keys[j]
	})
	out := make([]Volume, 0, len(keys))
	for _, k := range keys {
		out = append(out, m.Volumes[k])
	}
	return out
}

const maxBody = 1 << 20

// Parse reads the metadata JSON.
func Parse(b []byte) (*Metadata, error) {
	var m Metadata
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse instance metadata: %w", err)
	}
	if m.ID == "" && m.CommercialType == "" {
		return nil, errors.New("instance metadata has neither id nor commercial_type")
	}
	return &m, nil
}
