package access

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/internal/fuzzseed"
)

func lineCount(b []byte) int { return bytes.Count(b, []byte("\n")) + 1 }

func FuzzParseSudoers(f *testing.F) {
	fuzzseed.Files(f, "testdata/syntax/*.sudoers", "testdata/*/etc/sudoers", "testdata/*/etc/sudoers.d/*", "testdata/mixed/etc/sudoers.local")
	f.Add([]byte("a ALL = (x:y) NOPASSWD: sha512:AAAA== /bin/x \\\n, PASSWD: !/bin/y : h = z\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pf := ParseSudoers(b)
		n := lineCount(b)
		for _, sp := range pf.Specs {
			if sp.Line < 1 || sp.Line > n || len(sp.Users) == 0 || len(sp.Cmnds) == 0 {
				t.Fatalf("bad spec %+v", sp)
			}
			for _, c := range sp.Cmnds {
				if strings.TrimPrefix(c.Command, "!") == "" || len(c.Hosts) == 0 {
					t.Fatalf("bad command %+v", c)
				}
				if c.NoPasswd != strings.Contains(" "+strings.Join(c.Tags, " ")+" ", " NOPASSWD ") {
					t.Fatalf("NOPASSWD flag and tags disagree: %+v", c)
				}
			}
		}
		for _, a := range pf.Aliases {
			if !validAliasName(a.Name) || len(a.Members) == 0 {
				t.Fatalf("bad alias %+v", a)
			}
		}
		for _, in := range pf.Includes {
			if in.Path == "" || in.Line < 1 || in.Line > n {
				t.Fatalf("bad include %+v", in)
			}
		}
		for _, e := range pf.Errors {
			if e.Line < 1 || e.Line > n || e.Msg == "" {
				t.Fatalf("bad error %+v", e)
			}
		}
	})
}
