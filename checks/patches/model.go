// Package patches checks the customer's patching duty ("mettre
// régulièrement à jour le système d'exploitation"): pending security
// updates, pending reboots, automatic updates, a package index recent enough
// to trust, and an OS release still supported. It asks the package manager
// itself, never its own reading of the repositories, so pins, holds and
// priorities count as they do for the operator.
package patches

import "time"

// Update is one package with a newer candidate version.
type Update struct {
	Name       string
	Arch       string
	From       string // installed version, "" for a new package pulled in
	To         string
	Archives   []string // suites / repositories the candidate comes from
	Security   bool
	Advisories []string // advisory ids (RHSA, RLSA, SUSE-SU...), when the manager gives them
	Severity   string   // advisory severity, when given
	CVEs       []string
	Patch      bool // a zypper patch (an advisory covering packages), not a package
}

// Facts is what the patches rules need, read once.
type Facts struct {
	Manager    string // apt, dnf, zypper
	Source     string // the command whose output gave the updates
	Updates    []Update
	UpdatesErr string

	IndexNewest time.Time // last successful refresh of the package index
	// Indexes are the repositories' metadata one by one: the sources of
	// security updates are judged on their own (IndexStale).
	Indexes     []IndexSource
	IndexErr    string
	Now         time.Time
	MaxIndexAge time.Duration

	Auto AutoUpdates

	Reboot Reboot

	OS      OSRelease
	Support Support
}

// AutoUpdates is how security updates get installed without an operator.
type AutoUpdates struct {
	Tool     string // unattended-upgrades, dnf-automatic
	Enabled  bool
	Security bool     // what it installs includes security updates
	Details  []string // each setting that decided it, as "key = value (source)"
	Problems []string
	Err      string
}

// Reboot is whether the running system is older than what is installed.
type Reboot struct {
	Required      bool
	Reasons       []string
	RunningKernel string
	NewestKernel  string
	Err           string
}

// OSRelease is the part of os-release(5) that identifies the release.
type OSRelease struct {
	ID, VersionID, Codename, PrettyName string
	Like                                []string
}
