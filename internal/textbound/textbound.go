// Package textbound cuts foreign text to a length for a message that quotes
// it, marking the cut and never splitting a UTF-8 sequence.
package textbound

import "unicode/utf8"

// Truncate cuts s to at most n bytes (a rune boundary at or before n) and
// marks the cut with "...".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n < 0 {
		n = 0
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
