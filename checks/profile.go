package checks

import "sort"

// Profile selects the checks that apply to a kind of host and may raise
// their severity: the same facts weigh more on a host holding health data.
type Profile struct {
	Name        string
	Description string
	// Severity overrides by check id.
	Severity map[string]Severity
	// Excludes lists check ids the profile leaves out.
	Excludes map[string]bool
}

// Apply returns the check's description as this profile weighs it, and
// whether the profile includes it at all.
func (p Profile) Apply(m Meta) (Meta, bool) {
	if p.Excludes[m.ID] {
		return m, false
	}
	if s, ok := p.Severity[m.ID]; ok {
		m.Severity = s
	}
	return m, true
}

// Profiles known to this build.
var Profiles = map[string]Profile{
	"baseline": {
		Name:        "baseline",
		Description: "the best practices of the provider's shared responsibility model, for every instance",
		// Residency and offer eligibility mean something only for health
		// data: elsewhere a DEV1 in Amsterdam is no finding.
		Excludes: map[string]bool{"hds.zone": true, "hds.offer": true},
	},
	"hds": {
		Name:        "hds",
		Description: "baseline, plus what hosting health data (HDS) asks of the customer: an eligible offer in a Paris zone, every local, scratch and block volume encrypted, audit logging",
		Severity: map[string]Severity{
			"disks.local-encrypted":   High,
			"disks.scratch-encrypted": High,
			"disks.block-encrypted":   High,
			"disks.swap-encrypted":    High,
			"logging.audit":           High,
		},
	},
}

// ProfileNames lists the profiles, sorted.
func ProfileNames() []string {
	out := make([]string, 0, len(Profiles))
	for n := range Profiles {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
