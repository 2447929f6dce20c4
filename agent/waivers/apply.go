package waivers

import (
	"strings"
	"time"

	"github.com/vigie-agent/vigie/checks"
)

// CheckID is the finding that judges the waivers themselves.
const CheckID = "vigie.waivers"

// Meta describes it: a waiver past its date, or one that matches nothing,
// is a risk nobody is looking at any more.
var Meta = checks.Meta{
	ID:        CheckID,
	Title:     "Every waiver is in force and still covers something",
	Severity:  checks.Medium,
	Rationale: "An accepted risk has an owner and an end date; past it, the risk is back, and a waiver that matches nothing hides the next problem of that name.",
	ManualFix: "Renew an expired waiver with a new date if the risk is still accepted (and fix the finding otherwise); remove a waiver that matches nothing.",
	Image: checks.FromFiles("the waivers vigie is given (its configuration's waivers: and the files of waivers_dir, read where vigie runs, " +
		"not in the image: a pipeline's waivers are its own), against the image's findings"),
}

// covers reports whether a waiver's subject names a piece of evidence: its
// subject is the waiver's, or starts with it and a space ("8080/tcp on
// 0.0.0.0 (python3)" for 8080/tcp); evidence with no subject is named by
// its file. A file never covers evidence about a subject in it: a waiver
// for /etc/sudoers.d/90-deploy must not hide the next rule written there.
func covers(subject string, e checks.Evidence) bool {
	s := e.Subject
	if s == "" {
		s = e.File
	}
	return s != "" && (s == subject || strings.HasPrefix(s, subject+" "))
}

// Apply marks what the waivers in force cover, and appends the finding
// that judges the waivers, when there are any. A finding is waived when
// waivers in force cover all of it: a waiver without subject covers the
// check whole; one with a subject covers the failing evidence of that
// subject, and the finding only when no failing evidence is left
// uncovered. A failing finding with no evidence to tell subjects apart is
// covered only by a waiver without subject. Checks not in the run (a
// narrower --only) leave their waivers unjudged.
func Apply(fs []checks.Finding, ws []checks.Waiver, now time.Time) []checks.Finding {
	if len(ws) == 0 {
		return fs
	}
	// A check skipped (it does not apply here, or an image cannot answer
	// it) cannot say whether its waiver still matters.
	inRun := map[string]bool{}
	for _, f := range fs {
		inRun[f.ID] = f.Status != checks.Skip
	}
	used := make([]bool, len(ws))
	for i := range fs {
		f := &fs[i]
		if f.Status != checks.Fail && f.Status != checks.Error {
			continue
		}
		var applied []checks.Waiver
		whole := false
		for j, w := range ws {
			if w.Check != f.ID || Expired(w, now) {
				continue
			}
			if w.Subject == "" {
				used[j], whole = true, true
				applied = append(applied, w)
				continue
			}
			hit := false
			for k := range f.Evidence {
				if e := &f.Evidence[k]; !e.OK && covers(w.Subject, *e) {
					e.Waived, hit = true, true
				}
			}
			if hit {
				used[j] = true
				applied = append(applied, w)
			}
		}
		if len(applied) == 0 {
			continue
		}
		left, failingEvidence := 0, 0
		for _, e := range f.Evidence {
			if !e.OK {
				failingEvidence++
				if !e.Waived {
					left++
				}
			}
		}
		if whole || (left == 0 && failingEvidence > 0) {
			f.Waived = applied
		}
	}
	var ev []checks.Evidence
	bad := []string{}
	for j, w := range ws {
		name := w.Check
		if w.Subject != "" {
			name += " " + w.Subject
		}
		e := checks.Evidence{Subject: name, Key: "expires", Value: w.Expires, Source: "waiver accepted by " + w.AcceptedBy, File: w.Source, OK: true}
		switch {
		case Expired(w, now):
			e.OK, e.Want = false, "a date not passed: the waiver expired, the finding counts again"
			bad = append(bad, name+" expired "+w.Expires)
		case !inRun[w.Check]:
			e.Want = "not judged: the check was not in this run, or was skipped"
		case !used[j]:
			e.Key, e.Value = "matches", "nothing"
			e.OK, e.Want = false, "a failing finding it covers: remove the waiver"
			bad = append(bad, name+" matches nothing")
		}
		ev = append(ev, e)
	}
	r := checks.Passf("%d waiver(s), each in force and covering a failing finding", len(ws))
	if len(bad) > 0 {
		r = checks.Failf("%d waiver(s) to review: %s", len(bad), strings.Join(bad, "; "))
	}
	return append(fs, checks.NewFinding(Meta, r.With(ev...)))
}
