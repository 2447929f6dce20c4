package ssh

import (
	"os"
	"path/filepath"
	"testing"
)

func FuzzParseSshdT(f *testing.F) {
	b, _ := os.ReadFile("testdata/sshd-T/debian12-default.txt")
	f.Add(b)
	f.Add([]byte("port 22\npasswordauthentication no\npermitrootlogin no\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := ParseSshdT(in)
		if err == nil && s.Get("port") == "" && len(s["port"]) == 0 {
			t.Fatal("accepted output without port")
		}
	})
}

func FuzzParseConfigFiles(f *testing.F) {
	b, _ := os.ReadFile("testdata/scenarios/debian-default/etc/ssh/sshd_config")
	f.Add(b)
	f.Add([]byte("Match User root\n PasswordAuthentication yes\nInclude x\n"))
	f.Add([]byte("Port=22\nBanner \"a b\"\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "sshd_config"), in, 0o644); err != nil {
			t.Fatal(err)
		}
		// Absolute Include patterns stay inside the test's directory: a
		// fuzzed "Include /*/*/*" must not glob the host's /proc.
		cfg, err := ParseConfigFiles("/sshd_config", "/", func(s string) string { return filepath.Join(dir, s) })
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
	b, _ := os.ReadFile("testdata/authorized_keys/mixed")
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, k := range ParseAuthorizedKeys(in) {
			if k.Err == "" && k.Type == "" {
				t.Fatalf("parsed key without type at line %d", k.Line)
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
	f.Fuzz(func(t *testing.T, in []byte) {
		ver, _, err := parseServerHello(in)
		if err == nil && (len(ver) < 4 || ver[:4] != "SSH-") {
			t.Fatalf("accepted identification %q", ver)
		}
	})
}
