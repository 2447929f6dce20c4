package report

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vigie-agent/vigie/checks"
)

// SARIF writes the report as a SARIF 2.1.0 log, for code-scanning
// services: one run; one rule per check of the report; one result per
// check that fails or could not be checked. Passing and skipped checks are
// not results: code scanning opens an alert for every result it is given,
// and closes an alert when a later log of the same category no longer
// holds it.
//
// Host text (reasons, subjects, files) reaches the log through
// encoding/json, as in the JSON report: control characters are escaped and
// bytes that are not UTF-8 become U+FFFD. Message strings are also escaped
// as SARIF asks of plain-text messages (§3.11.5, §3.11.6), so that a reason
// cannot smuggle in a placeholder or a link.
type SARIF struct{}

const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	// FingerprintKey names vigie's partial fingerprint of a result; the
	// version changes if the recipe does.
	FingerprintKey = "vigieFinding/v1"
	// rootBase is the uriBaseId files are relative to: the root of the
	// checked host's file system.
	rootBase = "ROOT"
	// maxLocations is code scanning's limit on the locations of a result.
	maxLocations = 10
)

// Format implements Output.
func (SARIF) Format(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(sarifOf(r)); err != nil {
		return fmt.Errorf("encode SARIF: %w", err)
	}
	return nil
}

func sarifOf(r *Report) sarifLog {
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{Name: "vigie", Version: r.Agent.Version, InformationURI: DocsURL, Rules: []sarifRule{}}},
		Invocations: []sarifInvocation{{
			ExecutionSuccessful: true,
			StartTimeUTC:        sarifTime(r.StartedAt),
			EndTimeUTC:          sarifTime(r.StartedAt.Add(time.Duration(r.DurationMS) * time.Millisecond)),
			Machine:             r.Host.Hostname,
		}},
		// Code scanning keeps the alerts of each category apart: one per
		// host and profile, so that the log of one host does not close
		// the alerts of another (upload-sarif's category overrides it).
		AutomationDetails: sarifAutomation{ID: "vigie/" + category(r.Profile) + "/" + category(r.Host.Hostname) + "/"},
		OriginalURIBaseIDs: map[string]sarifArtifactLocation{
			rootBase: {URI: "file:///", Description: &sarifText{Text: "The root of the checked host's file system."}},
		},
		Results:    []sarifResult{},
		Properties: sarifRunProperties{ReportID: r.ID, Profile: r.Profile, Host: r.Host},
	}
	index := map[string]int{}
	for _, f := range r.Findings {
		i, seen := index[f.ID]
		if !seen {
			i = len(run.Tool.Driver.Rules)
			index[f.ID] = i
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRuleOf(f.Meta))
		}
		if f.Status == checks.Fail || f.Status == checks.Error {
			run.Results = append(run.Results, sarifResultOf(f, i))
		}
	}
	return sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}}
}

func sarifRuleOf(m checks.Meta) sarifRule {
	full := m.Title + "."
	help := m.Title + ". " + CheckURL(m.ID)
	if m.Rationale != "" {
		full = m.Rationale
		var b strings.Builder
		b.WriteString(m.Rationale)
		if m.ManualFix != "" {
			fmt.Fprintf(&b, "\n\nHow to fix it by hand: %s", m.ManualFix)
		}
		for _, ref := range m.References {
			fmt.Fprintf(&b, "\n\nWhere the duty comes from: %s", ref.Source)
			if ref.Section != "" {
				fmt.Fprintf(&b, ", %s", ref.Section)
			}
			if ref.Text != "" {
				fmt.Fprintf(&b, ": «%s»", ref.Text)
			}
		}
		fmt.Fprintf(&b, "\n\n%s", CheckURL(m.ID))
		help = b.String()
	}
	return sarifRule{
		ID:                   m.ID,
		Name:                 ruleName(m.ID),
		ShortDescription:     sarifText{Text: sarifMessage(m.Title)},
		FullDescription:      sarifText{Text: sarifMessage(full)},
		Help:                 sarifText{Text: sarifMessage(help)},
		HelpURI:              CheckURL(m.ID),
		DefaultConfiguration: sarifRuleConfig{Level: sarifLevel(m.Severity)},
		Properties: sarifRuleProperties{
			Tags:             []string{"security", m.Area()},
			Severity:         m.Severity.String(),
			SecuritySeverity: securitySeverity(m.Severity),
		},
	}
}

// sarifResultOf makes the result of a failing check, or of one vigie could
// not establish: that is a "fail" too, at the check's severity, since vigie
// never counts "could not look" as safe (Report.Failing counts it), and a
// code-scanning service shows results, not tool notifications, as alerts.
func sarifResultOf(f checks.Finding, rule int) sarifResult {
	msg := f.Reason
	evidence := make([]checks.Evidence, 0, len(f.Evidence))
	for _, e := range f.Evidence {
		if !e.OK || f.Status == checks.Error {
			evidence = append(evidence, e)
		}
	}
	if f.Status == checks.Error {
		msg = "could not be checked: " + f.Reason
	}
	var sup []sarifSuppression
	for _, w := range f.Waived {
		sup = append(sup, sarifSuppression{Kind: "external", Status: "accepted",
			Justification: sarifMessage(fmt.Sprintf("%s (accepted by %s until %s)", w.Reason, w.AcceptedBy, w.Expires))})
	}
	return sarifResult{
		Suppressions:        sup,
		RuleID:              f.ID,
		RuleIndex:           rule,
		Kind:                "fail",
		Level:               sarifLevel(f.Severity),
		Message:             sarifText{Text: sarifMessage(msg)},
		Locations:           sarifLocations(f),
		PartialFingerprints: map[string]string{FingerprintKey: Fingerprint(f)},
		Properties:          sarifResultProperties{Status: f.Status, Severity: f.Severity.String(), Evidence: evidence},
	}
}

// sarifLocations: the file and line of each piece of failing evidence that
// has one, with what it is about as a logical location. SARIF would leave
// the physical location out where no file is known, but code scanning
// refuses a whole log holding a result without one ("expected artifact
// location"): such a finding names its check as the artifact, a relative
// path that stays the same from run to run, beside the logical locations
// of what fails.
func sarifLocations(f checks.Finding) []sarifLocation {
	var locs []sarifLocation
	var logical []sarifLogicalLocation
	for _, e := range f.Evidence {
		if e.OK {
			continue
		}
		ll := logicalLocation(e)
		if e.File == "" {
			if len(ll) > 0 && len(logical) < maxLocations && !slices.Contains(logical, ll[0]) {
				logical = append(logical, ll[0])
			}
			continue
		}
		loc := sarifLocation{PhysicalLocation: sarifPhysicalLocation{ArtifactLocation: fileLocation(e.File)}, LogicalLocations: ll}
		if e.Line > 0 {
			loc.PhysicalLocation.Region = &sarifRegion{StartLine: e.Line}
		}
		if len(locs) < maxLocations && !slices.ContainsFunc(locs, func(l sarifLocation) bool { return samePlace(l, loc) }) {
			locs = append(locs, loc)
		}
	}
	if len(locs) > 0 {
		return locs
	}
	if len(logical) == 0 {
		logical = []sarifLogicalLocation{{Name: f.ID, FullyQualifiedName: f.ID, Kind: "resource"}}
	}
	return []sarifLocation{{
		PhysicalLocation: sarifPhysicalLocation{ArtifactLocation: sarifArtifactLocation{URI: (&url.URL{Path: f.ID}).String()}},
		LogicalLocations: logical,
	}}
}

func samePlace(a, b sarifLocation) bool {
	return a.PhysicalLocation.ArtifactLocation == b.PhysicalLocation.ArtifactLocation &&
		(a.PhysicalLocation.Region == nil) == (b.PhysicalLocation.Region == nil) &&
		(a.PhysicalLocation.Region == nil || *a.PhysicalLocation.Region == *b.PhysicalLocation.Region)
}

// logicalLocation names what a piece of evidence is about: its subject (an
// account, an address, a unit), and its key within the subject.
func logicalLocation(e checks.Evidence) []sarifLogicalLocation {
	name := cmp.Or(e.Subject, e.Key)
	if name == "" {
		return nil
	}
	fqn := name
	if e.Subject != "" && e.Key != "" {
		fqn = e.Subject + "/" + e.Key
	}
	return []sarifLogicalLocation{{Name: name, FullyQualifiedName: fqn, Kind: "resource"}}
}

// fileLocation: an absolute path is relative to ROOT, the host's "/"; any
// other path is given as it is. Either way it is escaped as a URI
// reference, bytes that are not UTF-8 included.
func fileLocation(file string) sarifArtifactLocation {
	rel := strings.TrimLeft(file, "/")
	loc := sarifArtifactLocation{URI: (&url.URL{Path: rel}).String()}
	if rel != file {
		loc.URIBaseID = rootBase
	}
	return loc
}

// Fingerprint identifies a finding across runs on one host: a hex SHA-256
// of the check id and of the subject, key and file of each piece of
// failing evidence, sorted, each field length-prefixed. It leaves out what
// changes from run to run while the finding stays the same: the reason and
// the values (a list of weak algorithms, a count of updates), the line, the
// report id and the time.
func Fingerprint(f checks.Finding) string {
	var parts [][3]string
	for _, e := range f.Evidence {
		if !e.OK {
			parts = append(parts, [3]string{e.Subject, e.Key, e.File})
		}
	}
	slices.SortFunc(parts, func(a, b [3]string) int {
		return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]), strings.Compare(a[2], b[2]))
	})
	parts = slices.Compact(parts)
	h := sha256.New()
	field := func(s string) {
		h.Write(binary.AppendUvarint(nil, uint64(len(s))))
		io.WriteString(h, s)
	}
	field(FingerprintKey)
	field(f.ID)
	for _, p := range parts {
		field(p[0])
		field(p[1])
		field(p[2])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sarifLevel: critical and high are errors, medium a warning, low and info
// notes.
func sarifLevel(s checks.Severity) string {
	switch {
	case s >= checks.High:
		return "error"
	case s == checks.Medium:
		return "warning"
	default:
		return "note"
	}
}

// securitySeverity places each severity in code scanning's bands (critical
// above 9.0, high from 7.0, medium from 4.0, low from 0.1).
func securitySeverity(s checks.Severity) string {
	switch {
	case s >= checks.Critical:
		return "9.5"
	case s == checks.High:
		return "8.0"
	case s == checks.Medium:
		return "5.5"
	case s == checks.Low:
		return "3.0"
	default:
		return "0.0"
	}
}

// sarifMessage escapes text for a plain-text SARIF message: braces are
// doubled (a "{0}" would be a placeholder), backslashes are doubled and a
// "](" loses its bracket to a backslash, so that no embedded link can form.
func sarifMessage(s string) string {
	if !strings.ContainsAny(s, `{}\]`) {
		return s
	}
	return strings.NewReplacer("{", "{{", "}", "}}", `\`, `\\`, "](", `\](`).Replace(s)
}

// ruleName is the check id in Pascal case, as SARIF suggests for a rule's
// name: "ssh.password-auth" is SshPasswordAuth.
func ruleName(id string) string {
	var b strings.Builder
	up := true
	for _, r := range strings.ToValidUTF8(id, "") {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
		}
		b.WriteRune(r)
		up = false
	}
	if b.Len() == 0 {
		return "Check"
	}
	return b.String()
}

// category makes a host name or a profile one segment of a category.
func category(s string) string {
	if s == "" {
		return "unknown"
	}
	return strings.Map(func(r rune) rune {
		if r == '/' || r == utf8.RuneError || unicode.IsControl(r) {
			return '_'
		}
		return r
	}, strings.ToValidUTF8(s, "_"))
}

func sarifTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
