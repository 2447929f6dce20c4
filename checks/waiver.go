package checks

// Waiver is an accepted risk: a check (and optionally one subject of it)
// whose failure an owner accepted, for a reason, until a date. A waived
// finding keeps its real status and evidence; it no longer decides the
// exit status, and is counted apart.
type Waiver struct {
	Check      string `json:"check"`
	Subject    string `json:"subject,omitempty"`
	Reason     string `json:"reason"`
	AcceptedBy string `json:"accepted_by"`
	// Expires is the last day the waiver holds, YYYY-MM-DD, in UTC.
	Expires string `json:"expires"`
	// Source is where the waiver was read: the configuration file, or a
	// file of waivers.d.
	Source string `json:"source,omitempty"`
}

// Failing reports whether the finding is one to act on: it fails or could
// not be checked, and no waiver covers it.
func (f Finding) Failing() bool {
	return (f.Status == Fail || f.Status == Error) && len(f.Waived) == 0
}
