package report

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
	// What filters and reaches the instance outside the guest, for an
	// audit: the provider's security group, the public addresses routed
	// to it (NAT may hide them from its interfaces), the private
	// networks it joins, and its tags.
	SecurityGroup   *SecurityGroup   `json:"security_group,omitempty"`
	PublicIPv4      []string         `json:"public_ipv4,omitempty"`
	PublicIPv6      []string         `json:"public_ipv6,omitempty"`
	PrivateNetworks []PrivateNetwork `json:"private_networks,omitempty"`
	Tags            []string         `json:"tags,omitempty"`
}

// SecurityGroup is the provider's stateful filter in front of the
// instance.
type SecurityGroup struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// PrivateNetwork is the instance's interface on one private network.
type PrivateNetwork struct {
	ID         string `json:"id"`
	NICID      string `json:"nic_id,omitempty"`
	MACAddress string `json:"mac_address,omitempty"`
}

// OS is the part of os-release(5) a fleet view needs.
type OS struct {
	ID         string `json:"id,omitempty"`
	VersionID  string `json:"version_id,omitempty"`
	PrettyName string `json:"pretty_name,omitempty"`
}
