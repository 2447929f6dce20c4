package host

import (
	"os"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/internal/fuzzseed"
)

func TestParseOSRelease(t *testing.T) {
	b, err := os.ReadFile("testdata/os-release-debian12")
	if err != nil {
		t.Fatal(err)
	}
	m := ParseOSRelease(b)
	if m["ID"] != "debian" || m["VERSION_ID"] != "12" || m["PRETTY_NAME"] != "Debian GNU/Linux 12 (bookworm)" {
		t.Errorf("got %v", m)
	}
	m = ParseOSRelease([]byte("# c\nNAME='Rocky Linux'\nX=\"a \\\"b\\\"\"\nbroken\n=v\n"))
	if m["NAME"] != "Rocky Linux" || m["X"] != `a "b"` || len(m) != 2 {
		t.Errorf("got %v", m)
	}
}

func FuzzParseOSRelease(f *testing.F) {
	fuzzseed.Files(f, "testdata/os-release-debian12")
	f.Fuzz(func(t *testing.T, in []byte) {
		for k := range ParseOSRelease(in) {
			if k == "" || strings.ContainsAny(k, "=\n") {
				t.Fatalf("bad key %q", k)
			}
		}
	})
}
