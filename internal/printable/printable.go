// Package printable turns text vigie did not write (key comments, user
// names, GECOS fields, paths, unit and process names) into text that is
// safe to put in front of a person or into a log: on a terminal, in the
// journal, in a Prometheus label.
//
// Any local user chooses some of the text vigie reports: a comment in
// authorized_keys, a process name set with prctl, a file name holding a
// newline or bytes that are not UTF-8. Printed raw, such text repaints the
// terminal of the root who reads the report (ESC sequences, a carriage
// return that overwrites what came before), forges log lines and journal
// fields (a newline), or reorders what a reader sees (bidi overrides, the
// "Trojan Source" characters). Line and Lines escape all of it visibly and
// bound its length; the JSON report, which must stay faithful, does not use
// this package.
//
// # Escapes
//
// The result is valid UTF-8 and every backslash in it starts one of these
// escapes, so the input can be read back without ambiguity:
//
//	\\          a backslash of the input
//	\t \n \r    tab, newline, carriage return
//	\xHH        any other C0 control or DEL (\x1b is ESC, \x07 BEL), or a
//	            byte that is not part of valid UTF-8 (then HH is 80 to ff)
//	\uHHHH      a C1 control (U+0080 to U+009F), a format character
//	            (Unicode category Cf: the bidi embeddings, overrides and
//	            isolates, zero-width spaces and joiners, U+FEFF, the tag
//	            characters...), a line or paragraph separator (U+2028,
//	            U+2029), or an invisible Hangul filler
//	\UHHHHHHHH  the same, beyond U+FFFF
//	\…(+N bytes)  the end of a cut: N bytes of the input are not shown
//
// Every other rune (a letter of any script, a symbol, an emoji) is kept as
// it is; the zero-width joiner that glues some emoji together is escaped
// with the other format characters. A C1 control is written \u0080 to \u009f, never \xHH: \xHH above
// 7f always means a raw byte. Escaping a result again, when nothing was
// cut, doubles its backslashes and changes nothing else.
//
// # Bounds
//
// The bound is a count of runes, which is what a terminal shows; escapes are
// ASCII, so an escaped string never holds more than four bytes per rune.
// A cut falls between two escapes or runes, never inside one, and is
// followed by the marker, which counts in the bound.
package printable

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MinLimit is the smallest bound Line honours: room for a cut marker naming
// any length. A smaller bound is raised to it.
const MinLimit = 32

// Line returns s escaped as one line of at most limit runes (at least
// MinLimit): fit for a table cell, a journal field, a label value or a line of
// a log.
func Line(s string, limit int) string {
	limit = max(limit, MinLimit)
	if plain(s, limit) {
		return s
	}
	// reserve is the room a marker needs, however much is cut.
	reserve := markerLen(len(s))
	var b strings.Builder
	n := 0              // runes written
	cutB, cutI := -1, 0 // where to cut the output and the input, if it comes to that
	var unit [10]byte
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		u := escape(unit[:0], s[i], r, size)
		k := len(u) // runes this unit adds: an escape is ASCII
		if u == nil {
			k = 1
		}
		if cutB < 0 && n+k > limit-reserve {
			cutB, cutI = b.Len(), i
		}
		if n+k > limit {
			return b.String()[:cutB] + marker(len(s)-cutI)
		}
		if u == nil {
			b.WriteString(s[i : i+size])
		} else {
			b.Write(u)
		}
		n += k
		i += size
	}
	return b.String()
}

// plain reports whether s needs neither an escape nor a cut, looking at no
// more than limit runes: most of what vigie prints is plain, and is then
// returned without a copy.
func plain(s string, limit int) bool {
	n := 0
	for i := 0; i < len(s); n++ {
		if n == limit {
			return false
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if escape(nil, s[i], r, size) != nil {
			return false
		}
		i += size
	}
	return true
}

// Lines escapes each line of s with Line and keeps the newlines between
// them: for text whose line structure means something, such as a diff.
// Each line is bounded, not their number; a carriage return before a
// newline shows as \r.
func Lines(s string, limit int) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Line(l, limit)
	}
	return strings.Join(lines, "\n")
}

// escape appends to dst the escape for the rune r of size bytes that starts
// with byte c, or returns nil when r is printed as it is.
func escape(dst []byte, c byte, r rune, size int) []byte {
	const hex = "0123456789abcdef"
	switch {
	case r == utf8.RuneError && size == 1:
		return append(dst, '\\', 'x', hex[c>>4], hex[c&0xf]) // a byte that is not UTF-8
	case c == '\\':
		return append(dst, '\\', '\\')
	case c == '\t':
		return append(dst, '\\', 't')
	case c == '\n':
		return append(dst, '\\', 'n')
	case c == '\r':
		return append(dst, '\\', 'r')
	case r < 0x20 || r == 0x7f:
		return append(dst, '\\', 'x', hex[c>>4], hex[c&0xf])
	case r < 0x80 || !hidden(r):
		return nil
	case r <= 0xffff:
		return append(dst, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
	}
	dst = append(dst, '\\', 'U')
	for shift := 28; shift >= 0; shift -= 4 {
		dst = append(dst, hex[r>>shift&0xf])
	}
	return dst
}

// hidden reports whether a rune beyond ASCII controls a terminal or hides,
// moves or reorders the text around it.
func hidden(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f: // C1 controls: CSI (U+009B) and OSC (U+009D) act as ESC [ and ESC ]
		return true
	case r == 0x2028 || r == 0x2029: // line and paragraph separators: a new line to some viewers
		return true
	case r == 0x115f || r == 0x1160 || r == 0x3164 || r == 0xffa0: // Hangul fillers: letters that draw nothing
		return true
	}
	// Cf holds the bidi controls of Trojan Source (U+061C, U+200E, U+200F,
	// U+202A to U+202E, U+2066 to U+2069), the zero-width characters
	// (U+200B to U+200D, U+2060, U+FEFF), the soft hyphen, the
	// interlinear annotations and the tag characters U+E0000 to U+E007F.
	return unicode.Is(unicode.Cf, r)
}

// marker says that the n last bytes of the input are not shown.
func marker(n int) string {
	return `\…(+` + strconv.Itoa(n) + " bytes)"
}

// markerLen is the length in runes of the marker for n bytes or fewer.
func markerLen(n int) int {
	return utf8.RuneCountInString(marker(n))
}
