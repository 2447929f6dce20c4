// Package reporttest holds what the tests of the report, its formats and
// its sinks share: a sample report, and text a hostile host can make vigie
// print, with the check that it came out printable.
package reporttest

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/checks"
)

// Sample is a small report with one finding of each status.
func Sample() *report.Report {
	meta := func(id string, sev checks.Severity) checks.Meta { return checks.Meta{ID: id, Title: id, Severity: sev} }
	fs := []checks.Finding{
		{Meta: meta("ssh.password-auth", checks.High), Status: checks.Fail, Reason: "passwordauthentication is yes (global)"},
		{Meta: meta("ssh.root-login", checks.High), Status: checks.Pass, Reason: "no"},
		{Meta: meta("patches.index-fresh", checks.Medium), Status: checks.Error, Reason: "apt: exit 100"},
		{Meta: meta("disks.block-encrypted", checks.Medium), Status: checks.Skip, Reason: "no block storage in use"},
	}
	return &report.Report{Schema: report.SchemaV1, ID: "0123456789abcdef0123456789abcdef", Agent: report.AgentInfo{Name: "vigie", Version: "1.2.3"},
		Profile: "baseline", StartedAt: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), DurationMS: 1500, Summary: report.Summarize(fs), Findings: fs}
}

// HostileText is text any local user can make vigie report (a key comment,
// a process name, a file name, a GECOS field), with the escaped form in
// which it must still be visible.
var HostileText = []struct {
	Name, In, Shows string
}{
	{"clear screen", "\x1b[2J\x1b[H", `\x1b[2J\x1b[H`},
	{"window title and bell", "\x1b]0;owned\x07", `\x1b]0;owned\x07`},
	{"overwrite the line", "FAIL\r\x1b[1A\x1b[2KPASS", `FAIL\r\x1b[1A\x1b[2KPASS`},
	{"forged line", "x\nvigie: 0 fail", `x\nvigie: 0 fail`},
	{"tab", "a\tb", `a\tb`},
	{"invalid UTF-8", "bad\xff\xfe", `bad\xff\xfe`},
	{"bidi override", "user\u202etxt.exe\u2066", `user\u202etxt.exe\u2066`},
	{"C1 CSI", "\u009b2J", `\u009b2J`},
	{"a megabyte", strings.Repeat("A\x1b", 1<<19), `A\x1bA\x1b`},
}

// Hostile is Sample with h in every string a finding carries,
// a check id included, and in the profile and version.
func Hostile(h string) *report.Report {
	r := Sample()
	r.Profile, r.Agent.Version = h, h
	for i := range r.Findings {
		f := &r.Findings[i]
		f.ID, f.Title, f.Reason = f.Area()+"."+h, h, h
		f.Evidence = []checks.Evidence{
			{Subject: h, Key: h, Value: h, Want: h, File: h, Line: 3},
			{Subject: h, Key: h, Value: []string{h, h}, Source: h, OK: true},
			{Value: 42},
		}
	}
	return r
}

// CheckPrintable fails unless s is valid UTF-8 with no control character
// (newlines aside, when lines are allowed), no C1, bidi or format
// character, and no line longer than limit runes.
func CheckPrintable(t testing.TB, what, s string, lines bool, limit int) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Errorf("%s: not valid UTF-8", what)
	}
	for _, r := range s {
		if r == '\n' && lines {
			continue
		}
		if r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || unicode.Is(unicode.Cf, r) {
			t.Errorf("%s holds %U", what, r)
			return
		}
	}
	for i, l := range strings.Split(s, "\n") {
		if n := utf8.RuneCountInString(l); n > limit {
			t.Errorf("%s: line %d has %d runes, more than %d: %.80q...", what, i+1, n, limit, l)
		}
	}
}
