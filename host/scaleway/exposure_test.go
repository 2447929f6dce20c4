package scaleway

import (
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// TestExposure: what the metadata says of the security group, the
// addresses, the private networks and the tags, from the file of a
// routed-IP instance, the shapes of old, and shapes it must survive.
func TestExposure(t *testing.T) {
	routed, err := os.ReadFile("testdata/exposure-routed.json")
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("é", 200) // 400 bytes
	tests := []struct {
		name string
		in   string
		want Exposure
	}{
		{"routed IPs, private networks, tags", string(routed), Exposure{
			SecurityGroupID: "df92a3b4-c5d6-47e8-a2f3-7e8f90a1b2c3", SecurityGroupName: "hds-app",
			PublicIPv4: []string{"198.51.100.77"}, PublicIPv6: []string{"2001:db8:1f0c:a100::1"},
			PrivateNetworks: []PrivateNIC{
				{ID: "9b5e6f70-8192-43a4-9ebf-3a4b5c6d7e8f", PrivateNetworkID: "ac6f7081-92a3-44b5-afc0-4b5c6d7e8f90", MACAddress: "02:00:00:1a:2b:3c"},
				{ID: "bd708192-a3b4-45c6-80d1-5c6d7e8f90a1", PrivateNetworkID: "ce8192a3-b4c5-46d7-91e2-6d7e8f90a1b2", MACAddress: "02:00:00:4d:5e:6f"},
			},
			Tags: []string{"env=prod", "hds", "owner=team-sante"},
		}},
		{"the shapes of old: public_ip and ipv6 objects, the same address in public_ips once",
			`{"id":"x","public_ip":{"address":"198.51.100.41","family":"inet"},"ipv6":{"address":"2001:db8::5","netmask":"64"},
			"public_ips":[{"address":"198.51.100.41"}],"public_ips_v6":[{"address":"2001:db8::5"},{"address":"2001:db8::6"}]}`,
			Exposure{PublicIPv4: []string{"198.51.100.41"}, PublicIPv6: []string{"2001:db8::5", "2001:db8::6"}}},
		{"nothing: nulls and empty lists", `{"id":"x","public_ip":null,"ipv6":null,"security_group":null,"public_ips":[],"private_nics":[],"tags":[]}`, Exposure{}},
		{"wrong shapes are empty, not an error", `{"id":"x","public_ip":"198.51.100.1","public_ips":{"address":"198.51.100.2"},
			"security_group":["sg"],"private_nics":"pn","tags":[1,{"a":2}]}`, Exposure{Tags: []string{"1", `{"a":2}`}}},
		{"values of another type, addresses that do not parse, an IPv4-mapped IPv6",
			`{"id":"x","security_group":{"id":7,"name":"web"},"public_ips":[{"address":"999.1.1.1"},{"address":"::ffff:198.51.100.9"},{"address":"198.51.100.9\n"},3,null],
			"private_nics":[{"private_network_id":"pn-1"},{},{"private_network_id":"pn-1"},"nic",{"mac_address":"02:00:00:00:00:01"},{"mac_address":"02:00:00:00:00:02"}]}`,
			Exposure{SecurityGroupName: "web", PublicIPv4: []string{"198.51.100.9"}, PrivateNetworks: []PrivateNIC{{PrivateNetworkID: "pn-1"},
				{MACAddress: "02:00:00:00:00:01"}, {MACAddress: "02:00:00:00:00:02"}}}},
		{"a zoned IPv6 address is none", `{"id":"x","public_ips":[{"address":"2001:db8::1%eth0\u001b[2J"},{"address":"2001:db8::2"}]}`,
			Exposure{PublicIPv6: []string{"2001:db8::2"}}},
		{"long names are clipped on a rune boundary", `{"id":"x","security_group":{"name":"` + long + `"},"tags":["` + long + `"]}`,
			Exposure{SecurityGroupName: long[:maxExposureText], Tags: []string{long[:maxExposureText]}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := md.Exposure(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestExposureBounded: a metadata document with thousands of addresses,
// networks and tags yields bounded lists.
func TestExposureBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"id":"x","public_ips":[`)
	for i := range 2000 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"address":"10.0.` + strconv.Itoa(i/250) + `.` + strconv.Itoa(i%250) + `"}`)
	}
	b.WriteString(`],"private_nics":[`)
	for i := range 2000 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"id":"n` + strconv.Itoa(i) + `","private_network_id":"p"}`)
	}
	b.WriteString(`],"tags":[`)
	for i := range 2000 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"t` + strconv.Itoa(i) + `"`)
	}
	b.WriteString(`]}`)
	md, err := Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	x := md.Exposure()
	if len(x.PublicIPv4) != maxExposureItems || len(x.PrivateNetworks) != maxExposureItems || len(x.Tags) != maxExposureItems {
		t.Errorf("lists not bounded: %d addresses, %d networks, %d tags", len(x.PublicIPv4), len(x.PrivateNetworks), len(x.Tags))
	}
}
