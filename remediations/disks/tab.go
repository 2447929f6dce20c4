package disks

import (
	"strings"

	diskcheck "github.com/vigie-agent/vigie/checks/disks"
)

// TabLine is one line of fstab(5) or crypttab(5): comments and blank lines
// keep only their text, so a rewrite changes nothing vigie did not mean to.
type TabLine struct {
	Raw    string
	Fields []string // unescaped fields; nil for a comment or a blank line
}

// ParseTab splits a table file into lines and whitespace-separated fields,
// decoding the octal escapes (\040 for a space) fstab uses in paths.
func ParseTab(b []byte) []TabLine {
	text := strings.TrimSuffix(string(b), "\n")
	if text == "" {
		return nil
	}
	var out []TabLine
	for _, raw := range strings.Split(text, "\n") {
		l := TabLine{Raw: raw}
		t := strings.TrimSpace(raw)
		if t != "" && t[0] != '#' {
			for _, f := range strings.Fields(t) {
				l.Fields = append(l.Fields, diskcheck.Unescape(f))
			}
		}
		out = append(out, l)
	}
	return out
}

// RenderTab joins lines back into a file.
func RenderTab(lines []TabLine) []byte {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Raw)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// EscapeTab encodes a field as fstab wants it: space, tab, newline and
// backslash as octal escapes.
func EscapeTab(s string) string {
	r := strings.NewReplacer(`\`, `\134`, " ", `\040`, "\t", `\011`, "\n", `\012`)
	return r.Replace(s)
}

// Replace comments out every entry match selects, saying why, and appends
// the new lines. It returns the new table and how many entries it
// commented out.
func Replace(lines []TabLine, match func(fields []string) bool, why string, add ...string) ([]TabLine, int) {
	out := make([]TabLine, 0, len(lines)+len(add)+1)
	n := 0
	for _, l := range lines {
		if l.Fields != nil && match != nil && match(l.Fields) {
			out = append(out, TabLine{Raw: "# " + l.Raw + "  # vigie: " + why})
			n++
			continue
		}
		out = append(out, l)
	}
	for _, a := range add {
		out = append(out, TabLine{Raw: a, Fields: ParseTab([]byte(a))[0].Fields})
	}
	return out, n
}
