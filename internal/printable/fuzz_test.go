package printable

import (
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzLine: whatever the input, the line is valid UTF-8 holding no control,
// bidi or format character, stays within its bound, and reads back to the
// input (or, when cut, to the start of it with the count of what was cut).
// Escaping what is already escaped changes only its backslashes.
func FuzzLine(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b]0;t\x07\r\n", "a\xffb", "\u202e\u2066x", `\x1b`, "\U000e0041", strings.Repeat("é\x00", 40)} {
		for _, limit := range []int{0, 40, 1000} {
			f.Add(s, limit)
		}
	}
	f.Fuzz(func(t *testing.T, s string, limit int) {
		limit %= 4096
		got := Line(s, limit)
		checkSafe(t, got, limit)
		back, cut := unescape(t, got)
		if cut < 0 {
			if back != s {
				t.Fatalf("%q escaped to %q, which reads back as %q", s, got, back)
			}
			if again := Line(got, 1<<30); again != strings.ReplaceAll(got, `\`, `\\`) {
				t.Fatalf("escaping %q again gave %q", got, again)
			}
			return
		}
		if !strings.HasPrefix(s, back) || len(s)-len(back) != cut {
			t.Fatalf("%q cut to %q: reads back as %q plus %d bytes", s, got, back, cut)
		}
	})
}

// FuzzLines: the lines of the result are the escaped lines of the input.
func FuzzLines(f *testing.F) {
	f.Add("--- a\n+b\x1b[2J\r\n\n", 40)
	f.Add("\n\n", 0)
	f.Fuzz(func(t *testing.T, s string, limit int) {
		limit %= 4096
		in := strings.Split(s, "\n")
		out := strings.Split(Lines(s, limit), "\n")
		if len(in) != len(out) {
			t.Fatalf("%d lines became %d", len(in), len(out))
		}
		for i := range out {
			checkSafe(t, out[i], limit)
			if out[i] != Line(in[i], limit) {
				t.Fatalf("line %d: %q, Line gives %q", i, out[i], Line(in[i], limit))
			}
		}
	})
}

func checkSafe(t *testing.T, got string, limit int) {
	t.Helper()
	if !utf8.ValidString(got) {
		t.Fatalf("%q is not valid UTF-8", got)
	}
	if n := utf8.RuneCountInString(got); n > max(limit, MinLimit) {
		t.Fatalf("%q: %d runes, bound %d", got, n, limit)
	}
	for _, r := range got {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r) {
			t.Fatalf("%q holds %U", got, r)
		}
	}
}

// unescape reads back what Line wrote; cut is the count of bytes the
// marker says are not shown, or -1 when nothing was cut. A backslash that
// starts no escape fails the test: Line never writes one.
func unescape(t *testing.T, s string) (back string, cut int) {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		rest := s[i+1:]
		hexAt := func(n int) uint64 {
			if len(rest) < 1+n {
				t.Fatalf("%q: short escape at %d", s, i)
			}
			v, err := strconv.ParseUint(rest[1:1+n], 16, 32)
			if err != nil || strings.ToLower(rest[1:1+n]) != rest[1:1+n] {
				t.Fatalf("%q: bad escape at %d", s, i)
			}
			i += 1 + n
			return v
		}
		switch {
		case rest == "":
			t.Fatalf("%q ends in a lone backslash", s)
		case rest[0] == '\\':
			b.WriteByte('\\')
			i++
		case rest[0] == 't':
			b.WriteByte('\t')
			i++
		case rest[0] == 'n':
			b.WriteByte('\n')
			i++
		case rest[0] == 'r':
			b.WriteByte('\r')
			i++
		case rest[0] == 'x':
			v := hexAt(2)
			if v >= 0x20 && v < 0x7f || v == '\t' || v == '\n' || v == '\r' {
				t.Fatalf("%q: %#x escaped as \\x", s, v)
			}
			b.WriteByte(byte(v))
		case rest[0] == 'u':
			b.WriteRune(rune(hexAt(4)))
		case rest[0] == 'U':
			b.WriteRune(rune(hexAt(8)))
		case strings.HasPrefix(rest, "…(+") && strings.HasSuffix(rest, " bytes)"):
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rest, "…(+"), " bytes)"))
			if err != nil || n <= 0 {
				t.Fatalf("%q: bad cut marker", s)
			}
			return b.String(), n
		default:
			t.Fatalf("%q: backslash that starts no escape at %d", s, i)
		}
	}
	return b.String(), -1
}
