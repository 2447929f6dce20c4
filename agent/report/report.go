// Package report is the report model (vigie.report/v1) and its formats:
// each format is one small type behind the Output interface, and none of
// them decides the exit code (Report.Failing does, from the results).
package report

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/vigie-agent/vigie/checks"
)

// SchemaV1 names the report format; docs/report.schema.json describes it.
const SchemaV1 = "vigie.report/v1"

// Report is one run of the checks on one host.
type Report struct {
	Schema     string           `json:"schema"`
	ID         string           `json:"id"`
	Agent      AgentInfo        `json:"agent"`
	Host       Host             `json:"host"`
	Profile    string           `json:"profile"`
	StartedAt  time.Time        `json:"started_at"`
	DurationMS int64            `json:"duration_ms"`
	Summary    Summary          `json:"summary"`
	Findings   []checks.Finding `json:"findings"`
	// Delivery is set when reports were lost before this one.
	Delivery *Delivery `json:"delivery,omitempty"`
}

// AgentInfo identifies the program that wrote the report.
type AgentInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
}

// Summary counts findings so a receiver need not walk them.
type Summary struct {
	Total            int            `json:"total"`
	Pass             int            `json:"pass"`
	Fail             int            `json:"fail"`
	Error            int            `json:"error"`
	Skip             int            `json:"skip"`
	FailedBySeverity map[string]int `json:"failed_by_severity"`
	// Waived counts the failing findings waivers cover: they are not in
	// Fail, Error or FailedBySeverity. Absent from reports before waivers.
	Waived int `json:"waived,omitempty"`
}

// Summarize counts the findings by status, and failures by severity.
func Summarize(fs []checks.Finding) Summary {
	s := Summary{Total: len(fs), FailedBySeverity: map[string]int{}}
	for _, f := range fs {
		if len(f.Waived) > 0 && (f.Status == checks.Fail || f.Status == checks.Error) {
			s.Waived++
			continue
		}
		switch f.Status {
		case checks.Pass:
			s.Pass++
		case checks.Fail:
			s.Fail++
			s.FailedBySeverity[f.Severity.String()]++
		case checks.Error:
			s.Error++
		case checks.Skip:
			s.Skip++
		}
	}
	return s
}

// Failing reports whether some finding fails, or could not be checked, at or
// above the threshold, and no waiver covers it. An error counts: a check vigie could not run has not
// shown the host to be safe.
func (r *Report) Failing(threshold checks.Severity) bool {
	for _, f := range r.Findings {
		if f.Failing() && f.Severity >= threshold {
			return true
		}
	}
	return false
}

// Delivery tells the receiver what the queue lost before this report.
type Delivery struct {
	// DroppedReports counts reports dropped, oldest first, from the full
	// spool since the previous report: the receiver sees a gap it can
	// explain.
	DroppedReports int `json:"dropped_reports"`
}

// NewID returns a random 128-bit id, the key a receiver deduplicates on.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
