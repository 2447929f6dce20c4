package ssh

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigie-agent/vigie/host/hostfs"
	"github.com/vigie-agent/vigie/internal/fuzzseed"
)

func FuzzParseSshdT(f *testing.F) {
	fuzzseed.Files(f, "testdata/sshd-T/*.txt")
	f.Add([]byte("port 22\npasswordauthentication no\npermitrootlogin no\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := ParseSshdT(in)
		if err == nil && s.Get("port") == "" && len(s["port"]) == 0 {
			t.Fatal("accepted output without port")
		}
	})
}

func FuzzParseConfigFiles(f *testing.F) {
	fuzzseed.Files(f, "testdata/scenarios/*/etc/ssh/sshd_config")
	f.Add([]byte("Match User root\n PasswordAuthentication yes\nInclude x\n"))
	f.Add([]byte("Port=22\nBanner \"a b\"\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "sshd_config"), in, 0o644); err != nil {
			t.Fatal(err)
		}
		// Absolute Include patterns stay inside the test's directory: a
		// fuzzed "Include /*/*/*" must not glob the host's /proc.
		cfg, err := ParseConfigFiles(context.Background(), hostfs.FS{Root: dir}, "/sshd_config", "/")
		if err != nil {
			return
		}
		s := FromFiles(cfg)
		if len(s["listenaddress"]) == 0 && len(s["port"]) > 0 {
			t.Fatalf("no listen address from ports %v", s["port"])
		}
	})
}

func FuzzParseAuthorizedKeys(f *testing.F) {
	fuzzseed.Files(f, "testdata/authorized_keys/*")
	f.Add([]byte("api_key: sk-live-0123456789\nssh-dss AAAA junk\n"))
	f.Add([]byte("command=\"x\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHw \x1b[2J\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got := ParseAuthorizedKeys(in)
		if len(got.Entries) > maxKeyEntries || got.Total < len(got.Entries)+got.Dropped {
			t.Fatalf("%d entries, %d total, %d dropped", len(got.Entries), got.Total, got.Dropped)
		}
		for _, k := range got.Entries {
			if k.Err == "" && k.Type == "" {
				t.Fatalf("parsed key without type at line %d", k.Line)
			}
			if k.Err != "" {
				// Nothing of an unparsable line but a known type name
				// may leave the parser.
				if k.Type != "" && !keyTypes[k.Type] || k.Comment != "" || len(k.Options) > 0 || len(k.Hash) != 8 || k.Len == 0 {
					t.Fatalf("unparsable line %d leaks or lacks its summary: %+v", k.Line, k)
				}
			}
		}
	})
}

func FuzzExpandAuthorizedKeysFile(f *testing.F) {
	f.Add("%h/.ssh/%u%%")
	f.Fuzz(func(t *testing.T, pat string) {
		p, err := ExpandAuthorizedKeysFile(pat, Account{Name: "u", UID: 1, Home: "/home/u"})
		if err == nil && (len(p) == 0 || p[0] != '/') {
			t.Fatalf("relative result %q", p)
		}
	})
}

func FuzzParseServerHello(f *testing.F) {
	f.Add(serverHello("", []string{"ssh-ed25519"}))
	f.Add([]byte("SSH-2.0-x\r\n\x00\x00\x00\x0c\x04\x14"))
	fuzzseed.Files(f, "testdata/server-hello/*.bin")
	f.Fuzz(func(t *testing.T, in []byte) {
		ver, _, err := parseServerHello(in)
		if err == nil && (len(ver) < 4 || ver[:4] != "SSH-") {
			t.Fatalf("accepted identification %q", ver)
		}
	})
}
