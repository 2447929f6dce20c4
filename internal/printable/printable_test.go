package printable

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLine(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "passwordauthentication is yes", "passwordauthentication is yes"},
		{"empty", "", ""},
		{"accents and CJK", "Émile Zoé 日本", "Émile Zoé 日本"},
		{"replacement character as written", "a\ufffdb", "a\ufffdb"},
		{"clear screen", "\x1b[2J\x1b[H", `\x1b[2J\x1b[H`},
		{"window title", "\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
		{"cursor up", "ok\x1b[1A\x1b[2K", `ok\x1b[1A\x1b[2K`},
		{"carriage return overwrite", "evil\rPASS", `evil\rPASS`},
		{"forged log line", "x\nvigie: all checks pass", `x\nvigie: all checks pass`},
		{"tab", "a\tb", `a\tb`},
		{"nul and DEL", "a\x00b\x7fc", `a\x00b\x7fc`},
		{"backslash", `C:\x1b`, `C:\\x1b`},
		{"invalid UTF-8", "a\xffb\xc3", `a\xffb\xc3`},
		{"overlong encoding", "\xc0\xaf", `\xc0\xaf`},
		{"surrogate half", "\xed\xa0\x80", `\xed\xa0\x80`},
		{"C1 CSI", "a\u009b2Jb", `a\u009b2Jb`},
		{"C1 NEL", "a\u0085b", `a\u0085b`},
		{"latin-1 letter kept", "\u00e9", "é"},
		{"right-to-left override", "user\u202etxt.exe", `user\u202etxt.exe`},
		{"bidi isolates", "\u2066\u2067\u2068\u2069", `\u2066\u2067\u2068\u2069`},
		{"bidi embeddings", "\u202a\u202b\u202c\u202d", `\u202a\u202b\u202c\u202d`},
		{"marks", "\u200e\u200f\u061c", `\u200e\u200f\u061c`},
		{"zero width", "ro\u200bot\u200c\u200d\u2060\ufeff", `ro\u200bot\u200c\u200d\u2060\ufeff`},
		{"separators", "a\u2028b\u2029c", `a\u2028b\u2029c`},
		{"soft hyphen", "ro\u00adot", `ro\u00adot`},
		{"hangul filler", "\u3164", `\u3164`},
		{"tag characters", "\U000e0041\U000e007f", `\U000e0041\U000e007f`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Line(tt.in, 200); got != tt.want {
				t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if back, cut := unescape(t, tt.want); back != tt.in || cut >= 0 {
				t.Errorf("%q reads back as %q (cut %d)", tt.want, back, cut)
			}
		})
	}
}

func TestLineCut(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int
		want  string
	}{
		{"fits exactly", strings.Repeat("a", 40), 40, strings.Repeat("a", 40)},
		{"one over", strings.Repeat("a", 41), 40, strings.Repeat("a", 40-markerLen(41)) + `\…(+` + strconv.Itoa(41-40+markerLen(41)) + " bytes)"},
		// 40 runes less 13 for the marker: the escape would end at 29.
		{"never inside an escape", strings.Repeat("a", 25) + "\x1b" + strings.Repeat("b", 40), 40, strings.Repeat("a", 25) + `\…(+41 bytes)`},
		{"never inside a rune", strings.Repeat("é", 60), 40, strings.Repeat("é", 26) + `\…(+68 bytes)`},
		{"bound below the minimum", strings.Repeat("a", 100), 1, strings.Repeat("a", MinLimit-markerLen(100)) + `\…(+` + strconv.Itoa(100-MinLimit+markerLen(100)) + " bytes)"},
		{"a megabyte", strings.Repeat("\x1b[2J", 1<<18), 100, strings.Repeat(`\x1b[2J`, 11) + `\x1b[\…(+1048530 bytes)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Line(tt.in, tt.limit)
			if got != tt.want {
				t.Errorf("Line(%.40q..., %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
			}
			if n := utf8.RuneCountInString(got); n > max(tt.limit, MinLimit) {
				t.Errorf("%d runes, bound %d", n, tt.limit)
			}
		})
	}
}

func TestLines(t *testing.T) {
	in := "--- /etc/ssh/sshd_config (now)\n+# \x1b[2Jhi\r\n-old\u202e\n"
	want := "--- /etc/ssh/sshd_config (now)\n+# \\x1b[2Jhi\\r\n-old\\u202e\n"
	if got := Lines(in, 80); got != want {
		t.Errorf("Lines = %q, want %q", got, want)
	}
	long := strings.Repeat("x", 500) + "\nshort"
	got := strings.Split(Lines(long, 50), "\n")
	if len(got) != 2 || utf8.RuneCountInString(got[0]) > 50 || got[1] != "short" {
		t.Errorf("Lines(long) = %q", got)
	}
}

// TestPlainNotCopied: text that needs nothing comes back as it was.
func TestPlainNotCopied(t *testing.T) {
	s := "ssh.password-auth"
	if got := Line(s, 100); got != s || testing.AllocsPerRun(10, func() { Line(s, 100) }) != 0 {
		t.Errorf("plain text copied or changed: %q", got)
	}
}

func BenchmarkLine(b *testing.B) {
	in := strings.Repeat("user\x1b[2J\u202e comment ", 1000)
	for b.Loop() {
		Line(in, 240)
	}
}
