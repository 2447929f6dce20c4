package accounts

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/internal/fuzzseed"
)

func lineCount(b []byte) int { return bytes.Count(b, []byte("\n")) + 1 }

func FuzzParsePasswd(f *testing.F) {
	fuzzseed.Files(f, "testdata/passwd/*")
	f.Fuzz(func(t *testing.T, b []byte) {
		accts, _ := ParsePasswd(b)
		n, last := lineCount(b), 0
		for _, a := range accts {
			if a.Name == "" || a.UID < 0 || a.GID < 0 || a.Line <= last || a.Line > n || strings.ContainsAny(a.Name+a.Password+a.Shell, ":\n") {
				t.Fatalf("bad account %+v", a)
			}
			last = a.Line
		}
	})
}

func FuzzParseShadow(f *testing.F) {
	fuzzseed.Files(f, "testdata/shadow/*")
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, _ := ParseShadow(b)
		for _, e := range entries {
			if e.Name == "" || strings.ContainsAny(e.Name+e.Password, ":\n") || e.Line < 1 {
				t.Fatalf("bad entry %+v", e)
			}
		}
	})
}
