package report

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/internal/printable"
)

// Output renders a report. Formats are small types behind this one
// interface; none of them decides the exit code.
type Output interface {
	Format(w io.Writer, r *Report) error
}

// JSON writes the report as vigie.report/v1.
type JSON struct{ Indent bool }

// Format implements Output.
func (j JSON) Format(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	if j.Indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	return nil
}

// Table writes one line per check for a person at a terminal, and under
// each failing check the evidence that decided it. Every string it prints
// goes through printable, as a reason or a piece of evidence may quote what
// any local user wrote (a key comment, a process name, a file name); each
// line is bounded.
type Table struct {
	Color   bool
	Verbose bool // evidence for passing checks too
}

const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiGrey   = "\x1b[90m"
)

func (t Table) paint(color, s string) string {
	if !t.Color {
		return s
	}
	return color + s + ansiReset
}

// Bounds, in runes, of what vigie prints of each string that may come from
// the host: the table's fields, short enough that a row stays readable,
// and the lines of a plan and of the log.
const (
	IDMax      = 64 // a check id, a run id, a status
	titleMax   = 100
	reasonMax  = 100
	subjectMax = 60
	keyMax     = 40
	valueMax   = 80
	FileMax    = 80
	wantMax    = 60

	NoteMax     = 400  // a line of a plan: a note, a step, a refusal
	DiffLineMax = 2048 // a line of a plan's diff
	LogLineMax  = 4096 // a line of the service's log, an error
)

func (t Table) status(s checks.Status) string {
	label := printable.Line(strings.ToUpper(string(s)), 16)
	switch s {
	case checks.Pass:
		return t.paint(ansiGreen, label)
	case checks.Fail:
		return t.paint(ansiRed, label)
	case checks.Error:
		return t.paint(ansiYellow, label)
	default:
		return t.paint(ansiGrey, label)
	}
}

// Format implements Output.
func (t Table) Format(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "STATUS\tSEVERITY\tCHECK\tRESULT\n")
	for _, f := range r.Findings {
		st, reason := t.status(f.Status), printable.Line(f.Reason, reasonMax)
		if len(f.Waived) > 0 {
			// The real status stays visible beside the waiver's owner and date.
			w := f.Waived[0]
			st = t.paint(ansiGrey, "WAIVED")
			reason = printable.Line(fmt.Sprintf("%s (%s, accepted by %s until %s)", f.Status, f.Reason, w.AcceptedBy, w.Expires), reasonMax+60)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", st, f.Severity, printable.Line(f.ID, IDMax), reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, f := range r.Findings {
		if f.Status == checks.Pass && !t.Verbose || f.Status == checks.Skip && !t.Verbose {
			continue
		}
		var lines []string
		for _, e := range f.Evidence {
			if e.OK && !t.Verbose {
				continue
			}
			line := "    " + describe(e, printable.Line)
			if e.Waived {
				line += "  [waived]"
			}
			lines = append(lines, line)
		}
		if len(lines) == 0 {
			continue
		}
		st := t.status(f.Status)
		if len(f.Waived) > 0 {
			st = t.paint(ansiGrey, "WAIVED")
		}
		fmt.Fprintf(w, "\n%s %s: %s\n%s\n", st, printable.Line(f.ID, IDMax), printable.Line(f.Title, titleMax), strings.Join(lines, "\n"))
	}
	s := r.Summary
	waived := ""
	if s.Waived > 0 {
		waived = fmt.Sprintf(", %d waived", s.Waived)
	}
	fmt.Fprintf(w, "\n%d checks: %d pass, %d fail, %d error, %d skip%s (profile %s, %d ms)\n",
		s.Total, s.Pass, s.Fail, s.Error, s.Skip, waived, printable.Line(r.Profile, IDMax), r.DurationMS)
	if s.Fail > 0 || s.Error > 0 {
		fmt.Fprintf(w, "`vigie explain CHECK` says why a check matters and how to fix it.\n")
	}
	return nil
}

// describe renders one piece of evidence as "subject: key = value
// (file:line)  want: …", each part passed through clip on its own: the
// table escapes and bounds each part (printable.Line) so that a long value
// cannot push the file and the want off the line; JUnit keeps it as
// written, within its own bound.
func describe(e checks.Evidence, clip func(s string, limit int) string) string {
	var b strings.Builder
	if e.Subject != "" {
		b.WriteString(clip(e.Subject, subjectMax))
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(clip(e.Key, keyMax))
		b.WriteString(" = ")
	}
	switch v := e.Value.(type) {
	case []string:
		b.WriteString(clip(strings.Join(v, ","), valueMax))
	case []any: // a list read back from a JSON report
		items := make([]string, len(v))
		for i, item := range v {
			items[i] = fmt.Sprint(item)
		}
		b.WriteString(clip(strings.Join(items, ","), valueMax))
	case nil:
	default:
		b.WriteString(clip(fmt.Sprint(v), valueMax))
	}
	if e.File != "" {
		if e.Line > 0 {
			fmt.Fprintf(&b, "  (%s:%d)", clip(e.File, FileMax), e.Line)
		} else {
			fmt.Fprintf(&b, "  (%s)", clip(e.File, FileMax))
		}
	} else if e.Source != "" {
		fmt.Fprintf(&b, "  (%s)", clip(e.Source, FileMax))
	}
	if e.Want != "" && !e.OK {
		fmt.Fprintf(&b, "  want: %s", clip(e.Want, wantMax))
	}
	return b.String()
}

// Explain writes what an operator needs to act on a check. The catalogue
// is vigie's own text and is printed as written, since its manual fixes hold
// commands to copy, backslashes included; TestCatalogueTextPrintable keeps
// control and bidi characters out of it.
func Explain(w io.Writer, m checks.Meta) {
	fmt.Fprintf(w, "%s: %s\n", m.ID, m.Title)
	fmt.Fprintf(w, "Severity: %s\n\n", ProfileSeverities(m))
	fmt.Fprintf(w, "Why it matters\n%s\n\n", indent(m.Rationale))
	if len(m.References) > 0 {
		fmt.Fprintf(w, "Where the duty comes from\n")
		for _, r := range m.References {
			fmt.Fprintf(w, "  - %s", r.Source)
			if r.Section != "" {
				fmt.Fprintf(w, ", section \"%s\"", r.Section)
			}
			fmt.Fprintln(w)
			if r.Text != "" {
				fmt.Fprintf(w, "    «%s»\n", r.Text)
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "How to fix it by hand\n%s\n", indent(m.ManualFix))
	if m.Remediation != nil {
		fmt.Fprintf(w, "\n`vigie fix` can apply remediation %s", m.Remediation.ID)
		if m.Remediation.Destructive {
			fmt.Fprintf(w, " (destructive: needs --allow-destructive)")
		}
		fmt.Fprintln(w, ".")
	}
	if m.Image.Declared() {
		fmt.Fprintf(w, "\n%s\n", imageSection(m.Image))
	}
}

func indent(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

// ProfileSeverities says how each profile weighs a check: "medium in
// baseline, high in hds", or that a profile leaves it out.
func ProfileSeverities(m checks.Meta) string {
	var in, out []string
	for _, name := range checks.ProfileNames() {
		pm, ok := checks.Profiles[name].Apply(m)
		if !ok {
			out = append(out, name)
			continue
		}
		in = append(in, pm.Severity.String()+" in "+name)
	}
	s := strings.Join(in, ", ")
	if len(out) > 0 {
		s += " (not in " + strings.Join(out, ", ") + ")"
	}
	return s
}

// DocsURL is docs/checks.md, the catalogue generated from the code.
const DocsURL = "https://github.com/vigie-agent/vigie/blob/main/docs/checks.md"

// CheckAnchor is the anchor of a check's section in docs/checks.md: the
// heading's id as GitHub makes it (the dots dropped, the rest lower case
// already).
func CheckAnchor(id string) string { return strings.ReplaceAll(id, ".", "") }

// CheckURL is the address of a check's section in docs/checks.md, escaped
// as a URI whatever the id holds.
func CheckURL(id string) string {
	u, _ := url.Parse(DocsURL)
	u.Fragment = CheckAnchor(id)
	return u.String()
}

// CatalogueMarkdown documents every check of the catalogue: what
// docs/checks.md holds, generated so it cannot drift from the code.
// own are vigie's judgements of itself (vigie.waivers), documented in a
// section of their own so that a report's link to them leads somewhere.
func CatalogueMarkdown(cat *checks.Catalogue, own ...checks.Meta) []byte {
	var b strings.Builder
	b.WriteString("# Checks\n\n")
	b.WriteString("Generated from the code by `make docs`; `vigie explain CHECK-ID` prints the same for one check, and\n")
	b.WriteString("`vigie check --list --profile PROFILE` lists a profile's checks.\n\n")
	b.WriteString("On an image tree (`vigie check --path.root DIR`: a mounted disk image, a build chroot), the checks only a\n")
	b.WriteString("running system can answer are skipped, each with its reason, and the others are judged from the image's files:\n")
	b.WriteString("the column \"on an image\" says which, and each check's section how.\n\n")
	b.WriteString("Profiles:\n\n")
	for _, name := range checks.ProfileNames() {
		fmt.Fprintf(&b, "- **%s**: %s.\n", name, checks.Profiles[name].Description)
	}
	type section struct {
		name   string
		checks []checks.Meta
	}
	var sections []section
	for _, area := range cat.Areas() {
		sections = append(sections, section{area.Name(), area.Checks()})
	}
	if len(own) > 0 {
		sections = append(sections, section{"vigie", own})
	}
	for _, area := range sections {
		fmt.Fprintf(&b, "\n## %s\n\n", area.name)
		fmt.Fprintf(&b, "| check | severity | vigie fix | on an image |\n| --- | --- | --- | --- |\n")
		for _, m := range area.checks {
			fix := "no"
			if m.Remediation != nil {
				fix = "`--only " + m.Remediation.ID + "`"
				if m.Remediation.Destructive {
					fix += " with `--allow-destructive`"
				}
			}
			fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s | %s |\n", m.ID, CheckAnchor(m.ID), ProfileSeverities(m), fix, imageColumn(m.Image))
		}
		for _, m := range area.checks {
			fmt.Fprintf(&b, "\n### %s\n\n**%s.** Severity: %s.\n\n%s\n", m.ID, m.Title, ProfileSeverities(m), m.Rationale)
			if len(m.References) > 0 {
				b.WriteString("\nReferences:\n\n")
				for _, r := range m.References {
					fmt.Fprintf(&b, "- %s", r.Source)
					if r.Section != "" {
						fmt.Fprintf(&b, ", %s", r.Section)
					}
					if r.Text != "" {
						fmt.Fprintf(&b, ": «%s»", r.Text)
					}
					b.WriteString("\n")
				}
			}
			fmt.Fprintf(&b, "\nManual fix: %s\n", m.ManualFix)
			fmt.Fprintf(&b, "\n%s\n", imageSection(m.Image))
		}
	}
	return []byte(b.String())
}

// imageColumn says in a word how a check answers on an image.
func imageColumn(i checks.Image) string {
	if i.Live {
		return "skipped: live only"
	}
	return "from the files"
}

// imageSection says how a check answers on an image, and why.
func imageSection(i checks.Image) string {
	if i.Live {
		return "On an image (`--path.root`): skipped, live only: " + i.How + "."
	}
	return "On an image (`--path.root`): judged from " + i.How + "."
}
