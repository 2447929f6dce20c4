package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/internal/printable"
)

// MaxReportFile bounds a report read back from a file: a real one is
// tens of kilobytes, and decoding costs many times the size in memory, so
// a crafted file is refused before it is decoded.
const MaxReportFile = 2 << 20

// Parse reads a vigie.report/v1 document and checks that it is one. What
// does not decode is refused without quoting it: the file may be anything
// a pipeline handed over, or a root-only file behind a planted name.
func Parse(b []byte, name string) (*Report, error) {
	if len(b) > MaxReportFile {
		return nil, fmt.Errorf("%s: larger than %d bytes: not a report", name, MaxReportFile)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%s: not a vigie report: no JSON past byte %d", name, se.Offset)
		}
		return nil, fmt.Errorf("%s: not a vigie report: its JSON does not have the report's shape", name)
	}
	if r.Schema != SchemaV1 {
		return nil, fmt.Errorf("%s: schema %q, want %s", name, printable.Line(r.Schema, IDMax), SchemaV1)
	}
	return &r, nil
}

// DiffSchema names the JSON form of a comparison.
const DiffSchema = "vigie.diff/v1"

// Side identifies one report of a comparison.
type Side struct {
	ID        string    `json:"id"`
	Hostname  string    `json:"hostname"`
	Profile   string    `json:"profile"`
	StartedAt time.Time `json:"started_at"`
}

// Diff is what changed from one report to the next, as `vigie diff`
// says it.
type Diff struct {
	Schema  string   `json:"schema"`
	Old     Side     `json:"old"`
	New     Side     `json:"new"`
	Changes []Change `json:"changes"`
	// Regressions counts the changes that make the new report worse: a
	// check newly failing, a waiver ended, a failing check with failing
	// evidence the old one did not have (a second exposed port), or a
	// failing check no longer judged.
	Regressions int `json:"regressions"`
}

func side(r *Report) Side {
	return Side{ID: r.ID, Hostname: r.Host.Hostname, Profile: r.Profile, StartedAt: r.StartedAt}
}

// Unjudged is a change `vigie diff` alone makes: a check that failed in
// the old report and is skipped in the new one, or not in it at all (a
// narrower profile, --only, an image tree where a live run was before).
// Nothing says it was fixed, so it is no "resolved": comparing an image
// with the previous release, a failure that stopped being looked at is a
// regression until it is judged again.
const Unjudged ChangeKind = "unjudged"

// Compare makes the diff from old to cur.
func Compare(old, cur *Report) *Diff {
	d := &Diff{Schema: DiffSchema, Old: side(old), New: side(cur), Changes: Changes(old, cur)}
	if d.Changes == nil {
		d.Changes = []Change{}
	}
	for i, c := range d.Changes {
		if c.Kind == Resolved && c.Finding.Status == checks.Skip {
			d.Changes[i].Kind = Unjudged
		}
	}
	before := map[string]checks.Finding{}
	for _, f := range old.Findings {
		before[f.ID] = f
	}
	for _, c := range d.Changes {
		if Regression(c, before[c.Finding.ID]) {
			d.Regressions++
		}
	}
	return d
}

// Regression reports whether a change makes things worse; prev is the
// finding before (zero when it was not in the report).
func Regression(c Change, prev checks.Finding) bool {
	switch c.Kind {
	case Failing, Unwaived, Unjudged:
		return true
	case Changed:
		if c.Finding.Severity > prev.Severity {
			return true
		}
		had := map[string]bool{}
		for _, e := range prev.Evidence {
			if !e.OK {
				had[e.Subject+"\x00"+e.Key+"\x00"+e.File] = true
			}
		}
		for _, e := range c.Finding.Evidence {
			if !e.OK && !e.Waived && !had[e.Subject+"\x00"+e.Key+"\x00"+e.File] {
				return true
			}
		}
	}
	return false
}

// ErrRegression is what `vigie diff` exits 1 for.
var ErrRegression = errors.New("the new report regresses")

// FormatDiff writes the diff as a table for a person, every string from the
// reports escaped and bounded: a report is a file anyone may have handed
// over.
func FormatDiff(w io.Writer, d *Diff) error {
	fmt.Fprintf(w, "%s %s (%s)  ->  %s %s (%s)\n\n",
		printable.Line(d.Old.Hostname, IDMax), d.Old.StartedAt.Format(time.RFC3339), printable.Line(d.Old.ID, IDMax),
		printable.Line(d.New.Hostname, IDMax), d.New.StartedAt.Format(time.RFC3339), printable.Line(d.New.ID, IDMax))
	counts := map[ChangeKind]int{}
	if len(d.Changes) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "CHANGE\tSEVERITY\tCHECK\tNOW\tWAS\tRESULT\n")
		for _, c := range d.Changes {
			counts[c.Kind]++
			f := c.Finding
			was := string(c.Was)
			if was == "" {
				was = "-"
			}
			reason := f.Reason
			if len(f.Waived) > 0 {
				reason = fmt.Sprintf("accepted by %s until %s: %s", f.Waived[0].AcceptedBy, f.Waived[0].Expires, f.Waived[0].Reason)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Kind, f.Severity, printable.Line(f.ID, IDMax), printable.Line(string(f.Status), IDMax),
				printable.Line(was, IDMax), printable.Line(reason, reasonMax))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	var parts []string
	for _, k := range []ChangeKind{Failing, Changed, Unwaived, Unjudged, Resolved, Waived} {
		if n := counts[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	if len(parts) == 0 {
		parts = []string{"no change"}
	}
	fmt.Fprintf(w, "%s; %d regression(s)\n", strings.Join(parts, ", "), d.Regressions)
	return nil
}
