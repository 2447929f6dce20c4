package report

import (
	"bytes"
	"encoding/json"

	"github.com/vigie-agent/vigie/checks"
)

// ChangeKind says how a finding differs from the report before.
type ChangeKind string

// The changes a fleet is told of between full reports. A passing or
// skipped check that stays so is no change, whatever its evidence: only
// what is wrong, or stopped being wrong, is worth a line.
const (
	// Failing: the check fails or errors now and did not before (it
	// passed, was skipped, or was not in the report).
	Failing ChangeKind = "failing"
	// Resolved: the check failed or errored before and no longer does, or
	// left the report.
	Resolved ChangeKind = "resolved"
	// Changed: the check still fails or errors, with another status,
	// severity or evidence (a second exposed port, another key).
	Changed ChangeKind = "changed"
	// Waived: the check failed before and a waiver covers it now.
	Waived ChangeKind = "waived"
	// Unwaived: a waiver covered the check before and no longer does (it
	// expired, or the failure spread past its subject).
	Unwaived ChangeKind = "unwaived"
)

// Change is one finding that differs from the report before.
type Change struct {
	Kind ChangeKind `json:"kind"`
	// Was is the status the check had before; empty when it was not in
	// the report.
	Was checks.Status `json:"was,omitempty"`
	// Finding is the check as it is now. For a check that left the report
	// it is the last one seen, marked skip with a reason saying so.
	Finding checks.Finding `json:"finding"`
}

// failing reports whether a finding is one a fleet must act on: a waived
// one is not (a waiver that expires makes it failing again).
func failing(f checks.Finding) bool { return f.Failing() }

// Changes lists what differs between prev and cur, in cur's order, then
// the checks that left the report in prev's order. A nil prev makes every
// failing finding of cur a change.
func Changes(prev, cur *Report) []Change {
	before := map[string]checks.Finding{}
	if prev != nil {
		for _, f := range prev.Findings {
			before[f.ID] = f
		}
	}
	var out []Change
	seen := map[string]bool{}
	for _, f := range cur.Findings {
		seen[f.ID] = true
		p, had := before[f.ID]
		switch {
		case failing(f) && had && len(p.Waived) > 0:
			out = append(out, Change{Kind: Unwaived, Was: p.Status, Finding: f})
		case failing(f) && (!had || !failing(p)):
			c := Change{Kind: Failing, Finding: f}
			if had {
				c.Was = p.Status
			}
			out = append(out, c)
		case !failing(f) && had && failing(p) && len(f.Waived) > 0:
			out = append(out, Change{Kind: Waived, Was: p.Status, Finding: f})
		case !failing(f) && had && failing(p):
			out = append(out, Change{Kind: Resolved, Was: p.Status, Finding: f})
		case failing(f) && (f.Status != p.Status || f.Severity != p.Severity || !sameEvidence(f.Evidence, p.Evidence)):
			out = append(out, Change{Kind: Changed, Was: p.Status, Finding: f})
		}
	}
	if prev != nil {
		for _, p := range prev.Findings {
			if seen[p.ID] || !failing(p) {
				continue
			}
			gone := p
			gone.Status = checks.Skip
			gone.Reason = "no longer checked: the profile or the selection changed"
			gone.Evidence = []checks.Evidence{}
			out = append(out, Change{Kind: Resolved, Was: p.Status, Finding: gone})
		}
	}
	return out
}

// sameEvidence compares two evidence lists as they travel: the previous
// report comes back from disk, where a value that was an int or a
// []string is a float64 or a []any, so they are compared encoded (a nil
// list and an empty one are the same).
func sameEvidence(a, b []checks.Evidence) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	ja, erra := json.Marshal(a)
	jb, errb := json.Marshal(b)
	return erra == nil && errb == nil && bytes.Equal(ja, jb)
}
