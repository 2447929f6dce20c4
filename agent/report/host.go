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
}

// OS is the part of os-release(5) a fleet view needs.
type OS struct {
	ID         string `json:"id,omitempty"`
	VersionID  string `json:"version_id,omitempty"`
	PrettyName string `json:"pretty_name,omitempty"`
}
