package scaleway

import (
	"encoding/json"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Exposure is what the metadata says of how the instance is reached and
// labelled: the security group that filters its traffic at the
// hypervisor, its public addresses, the private networks it joins and its
// tags. An auditor asks these of a host's identity; the guest cannot see
// the security group at all, and a public address that NAT hides from
// the guest's interfaces is still an exposure.
type Exposure struct {
	SecurityGroupID   string
	SecurityGroupName string
	PublicIPv4        []string
	PublicIPv6        []string
	PrivateNetworks   []PrivateNIC
	// Tags are the server's tags but the AUTHORIZED_KEY ones, which are
	// keys (judged by ssh.provider-keys), not labels.
	Tags []string
}

// PrivateNIC is the instance's interface on one private network.
type PrivateNIC struct {
	ID               string
	PrivateNetworkID string
	MACAddress       string
}

// Bounds of what Exposure keeps: the metadata is the provider's, but its
// tags and names are anyone's in the project.
const (
	maxExposureItems = 32
	maxExposureText  = 256
)

// Exposure reads the fields leniently: a field that is absent, null or of
// another shape is empty, an address that does not parse is left out,
// and every list is bounded and free of duplicates.
func (m *Metadata) Exposure() Exposure {
	var e Exposure
	var sg struct {
		ID   any `json:"id"`
		Name any `json:"name"`
	}
	if json.Unmarshal(m.SecurityGroup, &sg) == nil {
		e.SecurityGroupID, e.SecurityGroupName = text(sg.ID), text(sg.Name)
	}
	// One IPv4 of old in public_ip, the routed IPs of today in public_ips
	// (or public_ips_v4 and public_ips_v6), and an IPv6 of old in ipv6.
	var addrs []any
	for _, raw := range []json.RawMessage{m.PublicIP, m.IPv6} {
		var one any
		if json.Unmarshal(raw, &one) == nil {
			addrs = append(addrs, one)
		}
	}
	for _, raw := range []json.RawMessage{m.PublicIPs, m.PublicIPsV4, m.PublicIPsV6} {
		var list []any
		if json.Unmarshal(raw, &list) == nil {
			addrs = append(addrs, list...)
		}
	}
	for _, a := range addrs {
		obj, _ := a.(map[string]any)
		ip, err := netip.ParseAddr(text(obj["address"]))
		if err != nil || !ip.IsValid() || ip.Zone() != "" {
			continue // a zone is no public address, and may hold any text
		}
		ip = ip.Unmap()
		if ip.Is4() {
			e.PublicIPv4 = appendNew(e.PublicIPv4, ip.String())
		} else {
			e.PublicIPv6 = appendNew(e.PublicIPv6, ip.String())
		}
	}
	var nics []any
	if json.Unmarshal(m.PrivateNICs, &nics) == nil {
		seen := map[string]bool{}
		for _, n := range nics {
			obj, _ := n.(map[string]any)
			nic := PrivateNIC{ID: text(obj["id"]), PrivateNetworkID: text(obj["private_network_id"]), MACAddress: text(obj["mac_address"])}
			key := nic.ID + "\x00" + nic.PrivateNetworkID + "\x00" + nic.MACAddress
			if nic == (PrivateNIC{}) || seen[key] || len(e.PrivateNetworks) == maxExposureItems {
				continue
			}
			seen[key] = true
			e.PrivateNetworks = append(e.PrivateNetworks, nic)
		}
	}
	for _, t := range m.Tags {
		if !strings.HasPrefix(t, AuthorizedKeyTag) {
			e.Tags = appendNew(e.Tags, clip(t))
		}
	}
	return e
}

// text is a string value, clipped; anything else is empty.
func text(v any) string {
	s, _ := v.(string)
	return clip(s)
}

// clip bounds s to maxExposureText bytes, cut before a rune.
func clip(s string) string {
	if len(s) <= maxExposureText {
		return s
	}
	i := maxExposureText
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// appendNew appends s when it is not empty, not there yet and the list
// is not full.
func appendNew(list []string, s string) []string {
	if s == "" || len(list) == maxExposureItems {
		return list
	}
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
