package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vigie-agent/vigie/checks"
)

// JUnit writes the report as JUnit XML, the test report CI systems show
// (Jenkins, GitLab, GitHub Actions' test reporters): one testsuite per area,
// one testcase per check; a failing check is a failure, one vigie could not
// establish an error, a skipped one skipped. It follows the schema Jenkins
// validates JUnit reports with (agent/report/testdata/README.md).
//
// Host text goes through encoding/xml, which escapes markup and writes
// U+FFFD for what XML 1.0 cannot hold (control characters other than tab,
// newline and carriage return, bytes that are not UTF-8), so no such byte
// reaches the document. Each string is kept as written up to junitMax
// runes.
type JUnit struct{}

// junitMax bounds, in runes, each string of the document: libxml2, which
// many CI systems read reports with, refuses a text node over 10 MB, and
// no value a host holds must make the whole report unreadable.
const junitMax = LogLineMax

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Hostname   string          `xml:"hostname,attr,omitempty"`
	ID         int             `xml:"id,attr"`
	Package    string          `xml:"package,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Skipped   *junitSkipped `xml:"skipped"`
	Error     *junitProblem `xml:"error"`
	Failure   *junitProblem `xml:"failure"`
}

// junitSkipped holds the reason as its text: the schema gives skipped no
// attributes, and Jenkins and GitLab show the text.
type junitSkipped struct {
	Reason string `xml:",chardata"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// Format implements Output.
func (JUnit) Format(w io.Writer, r *Report) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitOf(r)); err != nil {
		return fmt.Errorf("encode JUnit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func junitOf(r *Report) junitSuites {
	// Checks are evaluated on facts read once for the whole run, so a
	// check takes no time of its own: the run's time is the document's.
	out := junitSuites{Name: "vigie", Time: seconds(r.DurationMS)}
	props := junitProperties(r)
	index := map[string]int{}
	for _, f := range r.Findings {
		area := f.Area()
		i, seen := index[area]
		if !seen {
			i = len(out.Suites)
			index[area] = i
			out.Suites = append(out.Suites, junitSuite{
				Name: bound(area), Time: seconds(0), Timestamp: r.StartedAt.UTC().Format("2006-01-02T15:04:05"),
				Hostname: bound(r.Host.Hostname), ID: i, Package: "vigie", Properties: props,
			})
		}
		s := &out.Suites[i]
		c := junitCase{Name: bound(f.ID), Classname: bound("vigie." + area), Time: seconds(0)}
		switch {
		case len(f.Waived) > 0:
			// An accepted risk: not a failure of the build, said as skipped
			// with who accepted it and until when.
			w := f.Waived[0]
			c.Skipped = &junitSkipped{Reason: bound(fmt.Sprintf("waived: %s, accepted by %s until %s (%s: %s)", w.Reason, w.AcceptedBy, w.Expires, f.Status, f.Reason))}
			s.Skipped++
		case f.Status == checks.Fail:
			c.Failure = &junitProblem{Message: bound(f.Reason), Type: f.Severity.String(), Text: junitText(f, false)}
			s.Failures++
		case f.Status == checks.Error:
			c.Error = &junitProblem{Message: bound(f.Reason), Type: f.Severity.String(), Text: junitText(f, true)}
			s.Errors++
		case f.Status == checks.Skip:
			c.Skipped = &junitSkipped{Reason: bound(f.Reason)}
			s.Skipped++
		}
		s.Tests++
		s.Cases = append(s.Cases, c)
	}
	for _, s := range out.Suites {
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
	}
	return out
}

// junitProperties describe the run: the same in every suite, as the
// schema puts properties in suites.
func junitProperties(r *Report) []junitProperty {
	props := []junitProperty{{"vigie.profile", r.Profile}, {"vigie.report_id", r.ID}, {"vigie.version", r.Agent.Version}}
	for _, p := range []junitProperty{
		{"host.hostname", r.Host.Hostname}, {"host.machine_id", r.Host.MachineID},
		{"host.os", r.Host.OS.PrettyName}, {"host.kernel", r.Host.Kernel},
	} {
		if p.Value != "" {
			props = append(props, p)
		}
	}
	for i := range props {
		props[i].Value = bound(props[i].Value)
	}
	return props
}

// junitText is the body of a failure or an error: the check's title, the
// evidence that decided it (all of it for an error), and where the check is
// documented.
func junitText(f checks.Finding, all bool) string {
	lines := []string{bound(f.Title)}
	for _, e := range f.Evidence {
		if !e.OK || all {
			lines = append(lines, "  "+describe(e, func(s string, _ int) string { return bound(s) }))
		}
	}
	lines = append(lines, "See "+bound(CheckURL(f.ID)))
	return strings.Join(lines, "\n")
}

// bound keeps s as written up to junitMax runes, and says how much it cut.
func bound(s string) string {
	if len(s) <= junitMax {
		return s
	}
	i := 0
	for n := 0; n < junitMax && i < len(s); n++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	if i == len(s) {
		return s
	}
	return s[:i] + fmt.Sprintf("…(+%d bytes)", len(s)-i)
}

func seconds(ms int64) string { return strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64) }
