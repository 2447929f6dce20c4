package agent

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/internal/printable"
)

// hostileText is text any local user can make vigie report (a key comment,
// a process name, a file name, a GECOS field), with the escaped form in
// which it must still be visible.
var hostileText = []struct {
	name, in, shows string
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

// hostileReport is sampleReport with h in every string a finding carries,
// a check id included, and in the profile and version.
func hostileReport(h string) *Report {
	r := sampleReport()
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

// checkPrintable fails unless s is valid UTF-8 with no control character
// (newlines aside, when lines are allowed), no C1, bidi or format
// character, and no line longer than limit runes.
func checkPrintable(t *testing.T, what, s string, lines bool, limit int) {
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

// TestTableEscapesHostText: whatever the host says, the table (colour
// off) holds no control character but its own newlines, keeps its lines
// short, and still shows the text, escaped.
func TestTableEscapesHostText(t *testing.T) {
	for _, tt := range hostileText {
		for _, verbose := range []bool{false, true} {
			var b strings.Builder
			if err := (Table{Verbose: verbose}).Format(&b, hostileReport(tt.in)); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			checkPrintable(t, tt.name, out, true, 400)
			if !strings.Contains(out, tt.shows) {
				t.Errorf("%s: the table does not show %q:\n%.2000s", tt.name, tt.shows, out)
			}
			if !strings.Contains(out, "42") || !strings.Contains(out, "4 checks: 1 pass, 1 fail, 1 error, 1 skip") {
				t.Errorf("%s: the table lost its own text:\n%.2000s", tt.name, out)
			}
		}
	}
}

// TestLogLine: one message, one line, whatever it quotes.
func TestLogLine(t *testing.T) {
	for _, tt := range hostileText {
		var b strings.Builder
		LogLine(&b)("read " + tt.in + ": permission denied")
		out := b.String()
		if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
			t.Errorf("%s: %d newlines in %.80q", tt.name, strings.Count(out, "\n"), out)
		}
		checkPrintable(t, tt.name, out, true, logLineMax)
		if !strings.Contains(out, tt.shows) {
			t.Errorf("%s: %.80q does not show %q", tt.name, out, tt.shows)
		}
	}
}

// TestCatalogueTextPrintable: Explain prints the catalogue as written, so
// it must hold nothing printable would escape but its newlines and
// backslashes.
func TestCatalogueTextPrintable(t *testing.T) {
	cat, err := Catalogue(Defaults())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range cat.IDs() {
		m, _ := cat.Lookup(id)
		texts := []string{m.ID, m.Title, m.Rationale, m.ManualFix}
		for _, r := range m.References {
			texts = append(texts, r.Source, r.Section, r.Text)
		}
		for _, s := range texts {
			for _, l := range strings.Split(s, "\n") {
				if printable.Line(l, len(l)*10) != strings.ReplaceAll(l, `\`, `\\`) {
					t.Errorf("%s: the catalogue holds text a terminal would not show as written: %q", id, l)
				}
			}
		}
	}
}
