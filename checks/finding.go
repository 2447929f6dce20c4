// Package checks holds the model every area shares: what a check is, what it
// found, and how the areas are registered. It does no I/O of its own.
package checks

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Severity orders findings so an operator can choose what fails a run.
type Severity int

// Severities, lowest first. The zero value is deliberately Info so an
// unset severity never inflates a report.
const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if int(s) < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity accepts the lower-case names used in config, flags and JSON.
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(name, n) {
			return Severity(i), nil
		}
	}
	return Info, fmt.Errorf("unknown severity %q (want one of %s)", name, strings.Join(severityNames[:], ", "))
}

// MarshalJSON writes the name, which is what the report schema promises.
func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads the name back, so reports round-trip.
func (s *Severity) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return err
	}
	v, err := ParseSeverity(name)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Status is the verdict of one check.
type Status string

// Statuses. Error means vigie could not establish the facts; it is never
// folded into pass.
const (
	Pass  Status = "pass"
	Fail  Status = "fail"
	Error Status = "error"
	Skip  Status = "skip"
)

// Reference ties a check to the document that makes it a duty.
type Reference struct {
	Source  string `json:"source"`            // "seed:000", "CIS Debian 12", "ANSSI-BP-028"
	Section string `json:"section,omitempty"` // the section or control id within that source
	Text    string `json:"text,omitempty"`    // a short quote or title, for an operator who has no copy at hand
}

// Remediation names the fix vigie can apply, if any.
type Remediation struct {
	ID          string `json:"id"`
	Destructive bool   `json:"destructive"`
}

// Meta is the static description of a check: everything but the verdict.
// It is what `vigie explain` prints and what the catalogue lists.
type Meta struct {
	ID          string       `json:"id"`
	Title       string       `json:"title"`
	Severity    Severity     `json:"severity"`
	Rationale   string       `json:"-"`
	ManualFix   string       `json:"-"`
	Remediation *Remediation `json:"remediation,omitempty"`
	References  []Reference  `json:"references,omitempty"`
	// Image says how the check answers on an image tree (--path.root
	// other than /): from the image's files, or not at all, being
	// live-only. Every check declares it.
	Image Image `json:"-"`
}

// Area returns the part of the id before the first dot ("ssh" for
// "ssh.password-auth").
func (m Meta) Area() string {
	area, _, _ := strings.Cut(m.ID, ".")
	return area
}

// Evidence is one observed fact behind a verdict, with where it came from,
// so an operator can go straight to the file and line that decided it.
type Evidence struct {
	Subject string `json:"subject,omitempty"` // what the fact is about: an address, a file, an account
	Key     string `json:"key,omitempty"`     // the setting or property
	Value   any    `json:"value,omitempty"`   // string, number, bool or []string
	Want    string `json:"want,omitempty"`    // what would pass, in words
	Source  string `json:"source,omitempty"`  // how it was learnt: "sshd -T", "config files", "live probe"
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	OK      bool   `json:"ok"`
	// Waived marks a failing piece of evidence a waiver covers; the
	// finding is waived only when every failing piece is.
	Waived bool `json:"waived,omitempty"`
}

// Result is what a rule returns: a verdict, why, and the facts behind it.
type Result struct {
	Status   Status
	Reason   string
	Evidence []Evidence
	// Severity, when set, replaces the check's own for this result: the same
	// gap weighs less where the facts make it harmless (forwarding off).
	Severity *Severity
}

// Finding is a check's metadata joined with its result: one row of a report.
type Finding struct {
	Meta
	Status   Status     `json:"status"`
	Reason   string     `json:"reason"`
	Evidence []Evidence `json:"evidence"`
	// Waived lists the waivers that together cover every failing piece
	// of evidence; empty for a finding no waiver covers whole.
	Waived []Waiver `json:"waived,omitempty"`
}

// NewFinding joins a check's description and its result.
func NewFinding(m Meta, r Result) Finding {
	ev := r.Evidence
	if ev == nil {
		ev = []Evidence{}
	}
	if r.Severity != nil {
		m.Severity = *r.Severity
	}
	return Finding{Meta: m, Status: r.Status, Reason: r.Reason, Evidence: ev}
}

// Passf, Failf, Errorf and Skipf build results with a formatted reason.
func Passf(format string, a ...any) Result {
	return Result{Status: Pass, Reason: fmt.Sprintf(format, a...)}
}

// Failf builds a failing result.
func Failf(format string, a ...any) Result {
	return Result{Status: Fail, Reason: fmt.Sprintf(format, a...)}
}

// Errorf builds a result for a check whose facts could not be read.
func Errorf(format string, a ...any) Result {
	return Result{Status: Error, Reason: fmt.Sprintf(format, a...)}
}

// Skipf builds a result for a check that does not apply here.
func Skipf(format string, a ...any) Result {
	return Result{Status: Skip, Reason: fmt.Sprintf(format, a...)}
}

// With attaches evidence to a result.
func (r Result) With(ev ...Evidence) Result {
	r.Evidence = append(r.Evidence, ev...)
	return r
}

// Abridge joins the first n items with sep and says how many were left
// out, so a reason stays one readable line however long the list.
func Abridge(items []string, n int, sep string) string {
	if len(items) > n {
		return strings.Join(items[:n], sep) + sep + fmt.Sprintf("and %d more", len(items)-n)
	}
	return strings.Join(items, sep)
}
