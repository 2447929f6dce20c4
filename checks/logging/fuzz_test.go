package logging

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/internal/fuzzseed"
)

func FuzzParseConf(f *testing.F) {
	fuzzseed.Files(f, "testdata/*/etc/systemd/journald.conf", "testdata/*/*/lib/systemd/journald.conf.d/*.conf")
	f.Add([]byte("[Journal]\nStorage=\\\n# c\n persistent\\"))
	f.Fuzz(func(t *testing.T, b []byte) {
		settings, errs := ParseConf(b)
		n, last := bytes.Count(b, []byte("\n"))+1, 0
		for _, s := range settings {
			if s.Key == "" || s.Section == "" || s.Line < last || s.Line > n || strings.ContainsAny(s.Key, "\n=") {
				t.Fatalf("bad setting %+v", s)
			}
			if strings.TrimSpace(s.Value) != s.Value || strings.TrimSpace(s.Key) != s.Key {
				t.Fatalf("untrimmed setting %+v", s)
			}
			last = s.Line
		}
		for _, e := range errs {
			if e.Line < 1 || e.Line > n {
				t.Fatalf("bad error %+v", e)
			}
		}
	})
}
