// Package checkstest holds what the tests of every area assert of a
// finding.
package checkstest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/checks"
)

// Want is what a test expects of one finding.
type Want struct {
	Status checks.Status
	Reason []string // substrings of the reason
	Bad    []string // failing evidence, "subject@file:line"; nil: not checked
	Good   []string // passing evidence with a file, "subject@file:line"; nil: not checked
}

// Expect fails the test where the finding is not what w says.
func Expect(t testing.TB, f checks.Finding, w Want) {
	t.Helper()
	if f.Status != w.Status {
		t.Errorf("%s: %s (%s), want %s", f.ID, f.Status, f.Reason, w.Status)
	}
	for _, r := range w.Reason {
		if !strings.Contains(f.Reason, r) {
			t.Errorf("%s: reason %q lacks %q", f.ID, f.Reason, r)
		}
	}
	if w.Bad != nil {
		if got := EvidenceAt(f, false); strings.Join(got, " ") != strings.Join(w.Bad, " ") {
			t.Errorf("%s: failing evidence\n got %q\nwant %q", f.ID, got, w.Bad)
		}
	}
	if w.Good != nil {
		if got := EvidenceAt(f, true); strings.Join(got, " ") != strings.Join(w.Good, " ") {
			t.Errorf("%s: passing evidence\n got %q\nwant %q", f.ID, got, w.Good)
		}
	}
}

// EvidenceAt lists failing (or, with ok, passing) evidence that names a
// file, as "subject@file:line".
func EvidenceAt(f checks.Finding, ok bool) []string {
	var out []string
	for _, e := range f.Evidence {
		if e.OK == ok && e.File != "" {
			out = append(out, fmt.Sprintf("%s@%s:%d", e.Subject, e.File, e.Line))
		}
	}
	return out
}

// ByID indexes findings by check id.
func ByID(fs []checks.Finding) map[string]checks.Finding {
	out := make(map[string]checks.Finding, len(fs))
	for _, f := range fs {
		out[f.ID] = f
	}
	return out
}
