package ssh

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host/hostfs"

	xssh "golang.org/x/crypto/ssh"
)

// TestParseSshdT reads the sshd -T of a fresh Debian 12 (OpenSSH 9.2) and
// Debian 13 (OpenSSH 10, with keywords 9.2 lacks: sshdsessionpath,
// sshdauthpath, refuseconnection...), both captured.
func TestParseSshdT(t *testing.T) {
	common := map[string]string{
		"passwordauthentication":       "yes",
		"kbdinteractiveauthentication": "no",
		"permitrootlogin":              "without-password",
		"authorizedkeysfile":           ".ssh/authorized_keys .ssh/authorized_keys2",
		"port":                         "22",
	}
	for file, more := range map[string]map[string]string{
		"debian12-default.txt": {},
		"debian13-default.txt": {"sshdsessionpath": "/usr/lib/openssh/sshd-session", "sshdauthpath": "/usr/lib/openssh/sshd-auth", "refuseconnection": "no"},
	} {
		s := parseCaptured(t, file)
		for key, want := range common {
			if got := s.Get(key); got != want {
				t.Errorf("%s: %s = %q, want %q", file, key, got, want)
			}
		}
		for key, want := range more {
			if got := s.Get(key); got != want {
				t.Errorf("%s: %s = %q, want %q", file, key, got, want)
			}
		}
		if got := s["hostkey"]; len(got) != 3 || got[2] != "/etc/ssh/ssh_host_ed25519_key" {
			t.Errorf("%s: hostkey = %v", file, got)
		}
		if got := s["listenaddress"]; !slices.Equal(got, []string{"[::]:22", "0.0.0.0:22"}) {
			t.Errorf("%s: listenaddress = %v", file, got)
		}
	}
	if algs := parseCaptured(t, "debian12-default.txt").List("pubkeyacceptedalgorithms"); len(algs) != 16 || algs[8] != "ssh-ed25519" {
		t.Errorf("pubkeyacceptedalgorithms = %v", algs)
	}
}

func parseCaptured(t *testing.T, file string) Settings {
	t.Helper()
	b, err := os.ReadFile("testdata/sshd-T/" + file)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSshdT(b)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return s
}

// TestRulesOnDebian13: ML-KEM first among OpenSSH 10's key exchanges, and
// every rule reaches a verdict on its sshd -T.
func TestRulesOnDebian13(t *testing.T) {
	s := parseCaptured(t, "debian13-default.txt")
	kex := s.List("kexalgorithms")
	if len(kex) == 0 || kex[0] != "mlkem768x25519-sha256" || slices.ContainsFunc(kex, func(k string) bool { return strings.HasPrefix(k, "diffie-hellman-") }) {
		t.Errorf("kexalgorithms = %v", kex)
	}

	f := &Facts{Installed: true, Source: "sshd -T", Global: s, ProbeOff: true,
		HostKeys: []HostKey{{Path: "/etc/ssh/ssh_host_rsa_key", Type: "ssh-rsa"}, {Path: "/etc/ssh/ssh_host_ecdsa_key", Type: "ecdsa-sha2-nistp256"}, {Path: "/etc/ssh/ssh_host_ed25519_key", Type: "ssh-ed25519"}}}
	want := map[string]checks.Status{IDPasswordAuth: checks.Fail, IDRootLogin: checks.Pass, IDPubkeyAlgs: checks.Fail, IDHostKeys: checks.Fail,
		IDAuthorizedKeys: checks.Pass, IDCrypto: checks.Fail, IDLiveProbe: checks.Skip, IDProviderKeys: checks.Skip}
	for _, fi := range Evaluate(f) {
		if fi.Status != want[fi.ID] {
			t.Errorf("%s: %s (%s), want %s", fi.ID, fi.Status, fi.Reason, want[fi.ID])
		}
		if fi.ID == IDCrypto && (!strings.Contains(fi.Reason, "ecdh-sha2-nistp256 (NIST curve)") || strings.Contains(fi.Reason, "mlkem")) {
			t.Errorf("%s: %s", fi.ID, fi.Reason)
		}
	}
}

// TestParseServerHelloDebian13: OpenSSH 10's identification line and
// KEXINIT (Debian 13, captured), with ML-KEM first among the key exchanges.
func TestParseServerHelloDebian13(t *testing.T) {
	b, err := os.ReadFile("testdata/server-hello/debian13.bin")
	if err != nil {
		t.Fatal(err)
	}
	ver, kex, err := parseServerHello(b)
	if err != nil {
		t.Fatal(err)
	}
	if ver != "SSH-2.0-OpenSSH_10.0p2 Debian-7+deb13u4" {
		t.Errorf("version %q", ver)
	}
	if len(kex.KexAlgos) == 0 || kex.KexAlgos[0] != "mlkem768x25519-sha256" || !slices.Contains(kex.KexAlgos, "kex-strict-s-v00@openssh.com") {
		t.Errorf("key exchanges %v", kex.KexAlgos)
	}
	if want := []string{"rsa-sha2-512", "rsa-sha2-256", "ecdsa-sha2-nistp256", "ssh-ed25519"}; !slices.Equal(kex.ServerHostKeyAlgos, want) {
		t.Errorf("host key algorithms %v, want %v", kex.ServerHostKeyAlgos, want)
	}
	if len(kex.CiphersServerClient) == 0 || kex.CiphersServerClient[0] != "chacha20-poly1305@openssh.com" {
		t.Errorf("ciphers %v", kex.CiphersServerClient)
	}
}

func TestParseSshdTRejects(t *testing.T) {
	for name, in := range map[string]string{
		"error text": "Missing privilege separation directory: /run/sshd\n",
		"empty":      "",
		"partial":    "port 22\n",
		"upper case": "Port 22\npasswordauthentication no\npermitrootlogin no\n",
		"html":       "<html>\n",
		"huge":       strings.Repeat("x", maxSshdTOutput+1),
	} {
		if _, err := ParseSshdT([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSplitLine(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"PasswordAuthentication no", []string{"PasswordAuthentication", "no"}},
		{"  Port=2222", []string{"Port", "2222"}},
		{"Port = 2222", []string{"Port", "2222"}},
		{"Banner \"/etc/my banner\"", []string{"Banner", "/etc/my banner"}},
		{"AcceptEnv LANG LC_* # trailing comment", []string{"AcceptEnv", "LANG", "LC_*"}},
		{"# PasswordAuthentication no", nil},
		{"\t", nil},
		{"Ciphers\taes128-ctr,aes256-ctr\r", []string{"Ciphers", "aes128-ctr,aes256-ctr"}},
		{"AuthorizedKeysFile .ssh/a=b", []string{"AuthorizedKeysFile", ".ssh/a=b"}},
	}
	for _, tt := range tests {
		got, err := splitLine(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
		}
	}
	if _, err := splitLine(`Banner "unterminated`); err == nil {
		t.Error("unterminated quote accepted")
	}
}

func TestParseConfigFilesIncludeLoop(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfg, []byte("Include "+cfg+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ParseConfigFiles(context.Background(), hostfs.Host, cfg, dir)
	if err == nil || !strings.Contains(err.Error(), "include loop") {
		t.Fatalf("include loop: err = %v", err)
	}
	// Fan-out: every pattern matches every file of the directory.
	for i := 0; i < 8; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("d%d.conf", i)), []byte("Include *.conf *.conf\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(cfg, []byte("Include *.conf *.conf *.conf\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseConfigFiles(context.Background(), hostfs.Host, cfg, dir); err == nil {
		t.Fatal("an Include fan-out that never ends was accepted")
	}
}

func TestParseConfigFilesDiamond(t *testing.T) {
	// The same file included twice, not from itself, is not a loop.
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(filepath.Join(dir, "common.conf"), []byte("PasswordAuthentication no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte("Include common.conf\nInclude common.conf\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfigFiles(context.Background(), hostfs.Host, cfg, dir)
	if err != nil || len(c.Global) != 2 {
		t.Fatalf("%v %+v", err, c)
	}
}

func TestParseConfigFilesMissing(t *testing.T) {
	_, err := ParseConfigFiles(context.Background(), hostfs.Host, "/nonexistent/sshd_config", "/etc/ssh")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/sshd_config") {
		t.Fatalf("err = %v", err)
	}
}

func TestResolveAlgorithms(t *testing.T) {
	def := []string{"a-1,b-2,c-3"}
	tests := []struct{ value, want string }{
		{"x", "x"},
		{"+d-4,a-1", "a-1,b-2,c-3,d-4"},
		{"^d-4", "d-4,a-1,b-2,c-3"},
		{"-b*", "a-1,c-3"},
		{"-*-3,a-1", "b-2"},
	}
	for _, tt := range tests {
		if got := resolveAlgorithms(def, tt.value); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.value, got, tt.want)
		}
	}
}

func TestListenAddresses(t *testing.T) {
	tests := []struct {
		listens, ports []string
		family         string
		want           []string
	}{
		{nil, []string{"22"}, "any", []string{"[::]:22", "0.0.0.0:22"}},
		{nil, []string{"22", "2222"}, "inet", []string{"0.0.0.0:22", "0.0.0.0:2222"}},
		{[]string{"10.0.0.1", "[fe80::1]:2200"}, []string{"22"}, "any", []string{"10.0.0.1:22", "[fe80::1]:2200"}},
		{[]string{"10.0.0.1:2022"}, []string{"22"}, "any", []string{"10.0.0.1:2022"}},
	}
	for _, tt := range tests {
		if got := listenAddresses(tt.listens, tt.ports, tt.family); !slices.Equal(got, tt.want) {
			t.Errorf("%v %v: got %v, want %v", tt.listens, tt.ports, got, tt.want)
		}
	}
}

func TestParseAuthorizedKeys(t *testing.T) {
	b, err := os.ReadFile("testdata/authorized_keys/mixed")
	if err != nil {
		t.Fatal(err)
	}
	got := ParseAuthorizedKeys(b).Entries
	want := []struct {
		line    int
		typ     string
		comment string
		err     bool
	}{
		{2, "ssh-ed25519", "alice@laptop", false},
		{4, "ssh-rsa", "bob@old", false},
		{5, "ecdsa-sha2-nistp256", "carol@hsm", false},
		{6, "ssh-dss", "", true},
		{7, "", "", true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries: %+v", len(got), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Line != w.line || g.Type != w.typ || g.Comment != w.comment || (g.Err != "") != w.err {
			t.Errorf("entry %d: got %+v, want %+v", i, g, w)
		}
	}
	if !slices.Equal(got[1].Options, []string{`from="10.0.0.0/8"`, "no-pty"}) {
		t.Errorf("options %q", got[1].Options)
	}
}

func TestExpandAuthorizedKeysFile(t *testing.T) {
	a := Account{Name: "alice", UID: 1000, Home: "/home/alice/"}
	tests := []struct{ in, want string }{
		{".ssh/authorized_keys", "/home/alice/.ssh/authorized_keys"},
		{"%h/.ssh/keys", "/home/alice//.ssh/keys"},
		{"/etc/ssh/keys/%u", "/etc/ssh/keys/alice"},
		{"/etc/ssh/keys/%U.pub", "/etc/ssh/keys/1000.pub"},
		{"/etc/ssh/100%%/%u", "/etc/ssh/100%/alice"},
	}
	for _, tt := range tests {
		got, err := ExpandAuthorizedKeysFile(tt.in, a)
		if err != nil || got != tt.want {
			t.Errorf("%q: got %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"%x/keys", "keys%"} {
		if _, err := ExpandAuthorizedKeysFile(bad, a); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// serverHello builds what an SSH server sends first: banner lines, its
// identification and a KEXINIT packet.
func serverHello(pre string, hostKeys []string) []byte {
	msg := kexInit{
		KexAlgos:            []string{"curve25519-sha256"},
		ServerHostKeyAlgos:  hostKeys,
		CiphersClientServer: []string{"aes128-ctr"}, CiphersServerClient: []string{"aes128-ctr"},
		MACsClientServer: []string{"hmac-sha2-256"}, MACsServerClient: []string{"hmac-sha2-256"},
		CompressionClientServer: []string{"none"}, CompressionServerClient: []string{"none"},
	}
	payload := xssh.Marshal(&msg)
	pad := 8 - (len(payload)+5)%8 + 4
	var b bytes.Buffer
	b.WriteString(pre + "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6\r\n")
	_ = binary.Write(&b, binary.BigEndian, uint32(len(payload)+pad+1))
	b.WriteByte(byte(pad))
	b.Write(payload)
	b.Write(make([]byte, pad))
	return b.Bytes()
}

func TestParseServerHello(t *testing.T) {
	ver, kex, err := parseServerHello(serverHello("Welcome\r\nauthorised use only\r\n", []string{"ssh-ed25519", "rsa-sha2-512"}))
	if err != nil {
		t.Fatal(err)
	}
	if ver != "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6" || !slices.Equal(kex.ServerHostKeyAlgos, []string{"ssh-ed25519", "rsa-sha2-512"}) {
		t.Errorf("got %q %v", ver, kex.ServerHostKeyAlgos)
	}
	good := serverHello("", []string{"ssh-ed25519"})
	for name, in := range map[string][]byte{
		"no banner":    []byte("HTTP/1.1 400 Bad Request\r\n"),
		"no packet":    []byte("SSH-2.0-x\r\n"),
		"truncated":    good[:len(good)-10],
		"huge length":  append([]byte("SSH-2.0-x\r\n"), 0xff, 0xff, 0xff, 0xff, 4, 20),
		"wrong type":   append([]byte("SSH-2.0-x\r\n"), 0, 0, 0, 12, 4, 21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
		"padding>size": append([]byte("SSH-2.0-x\r\n"), 0, 0, 0, 6, 9, 20, 0, 0, 0, 0, 0),
	} {
		if _, _, err := parseServerHello(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
