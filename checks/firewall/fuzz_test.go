package firewall

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigie-agent/vigie/internal/fuzzseed"
)

func FuzzParseRuleMsg(f *testing.F) {
	// NFT_MSG_NEWRULE for "inet filter input handle 2: meta, cmp, immediate".
	f.Add([]byte("\x01\x00\x00\x00\x0b\x00\x01\x00filter\x00\x00\x0a\x00\x02\x00input\x00\x00\x00\x0c\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00\x02\x1c\x00\x04\x80\x0c\x00\x01\x80\x09\x00\x01\x00meta\x00\x00\x00\x00\x0c\x00\x01\x80\x08\x00\x01\x00cmp\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, names, err := parseRuleMsg(b)
		if err == nil && len(b) < 4 {
			t.Fatalf("short message accepted: %v %v", k, names)
		}
	})
}

func FuzzLegacyRules(f *testing.F) {
	f.Add([]byte("*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, r := range legacyRules(b) {
			if r == "" {
				t.Fatal("empty rule")
			}
		}
	})
}

func FuzzReadListeners(f *testing.F) {
	fuzzseed.Files(f, "testdata/proc-debian12/net/tcp")
	// One directory per fuzzing process, rewritten at every input: a new
	// temporary tree per input made this the slowest target by far.
	dir := f.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "net"), 0o755); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		for _, name := range []string{"tcp", "tcp6", "udp", "udp6"} {
			if err := os.WriteFile(filepath.Join(dir, "net", name), content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ls, err := ReadListeners(dir, "")
		for _, l := range ls {
			if l.Port < 0 || l.Port > 65535 {
				t.Fatalf("port %d from %q (err %v)", l.Port, content, err)
			}
		}
	})
}

func FuzzUFWEnabled(f *testing.F) {
	f.Add([]byte("ENABLED=yes\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if ufwEnabled(b) && !bytes.Contains(b, []byte("ENABLED")) {
			t.Fatalf("enabled without ENABLED in %q", b)
		}
	})
}
