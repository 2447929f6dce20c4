package ssh

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"

	sshcheck "github.com/vigie-agent/vigie/checks/ssh"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/internal/testenv"
	"github.com/vigie-agent/vigie/remediations"
)

type server struct {
	dir, addr, config string
	cmd               *exec.Cmd
	log               *bytes.Buffer
}

// startDefault runs a real sshd set up like a Debian cloud image: RSA and
// ECDSA host keys only, cloud-init's drop-in allowing passwords. Its key
// files live under /tmp, which StrictModes rightly refuses, hence
// StrictModes no in this test server only.
func startDefault(t *testing.T) *server {
	t.Helper()
	return startWith(t, "")
}

// startWith is startDefault with extra lines at the end of the main file.
func startWith(t *testing.T, extra string) *server {
	t.Helper()
	return startWithSetup(t, func(*server) string { return extra })
}

// startWithSetup is startWith whose extra lines come from setup, which
// runs once the server's directories exist (to make its accounts first).
func startWithSetup(t *testing.T, setup func(s *server) string) *server {
	t.Helper()
	testenv.Sshd(t)
	dir := t.TempDir()
	// Accounts other than root read their key files as themselves, as
	// sshd does: the test's directories must be searchable by them.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{dir: dir, addr: l.Addr().String(), config: filepath.Join(dir, "etc/ssh/sshd_config"), log: &bytes.Buffer{}}
	l.Close()
	for _, d := range []string{"etc/ssh/sshd_config.d", "keys"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, typ := range []string{"rsa", "ecdsa"} {
		key := filepath.Join(dir, "etc/ssh/ssh_host_"+typ+"_key")
		if out, err := exec.Command("ssh-keygen", "-q", "-t", typ, "-N", "", "-f", key).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
	}
	main := fmt.Sprintf(`Include %[1]s/etc/ssh/sshd_config.d/*.conf
HostKey %[1]s/etc/ssh/ssh_host_rsa_key
HostKey %[1]s/etc/ssh/ssh_host_ecdsa_key
KbdInteractiveAuthentication no
UsePAM no
ListenAddress %[2]s
PidFile %[1]s/sshd.pid
AuthorizedKeysFile %[1]s/keys/%%u
StrictModes no
`, dir, s.addr) + setup(s)
	if err := os.WriteFile(s.config, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc/ssh/sshd_config.d/50-cloud-init.conf"), []byte("PasswordAuthentication yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", s.config)
	s.cmd.Stderr = s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.cmd.Process.Kill(); _ = s.cmd.Wait() })
	if err := waitListening(context.Background(), []string{s.addr}, 5*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, s.log)
	}
	return s
}

func (s *server) options() Options {
	check := sshcheck.DefaultOptions()
	check.ConfigPath = s.config
	check.ProbeTimeout = 3 * time.Second
	return Options{
		Check:   check,
		DropIn:  filepath.Join(s.dir, "etc/ssh/sshd_config.d/00-vigie.conf"),
		HostKey: filepath.Join(s.dir, "etc/ssh/ssh_host_ed25519_key"),
		Reload:  Reloader(filepath.Join(s.dir, "sshd.pid"), []string{s.addr}),
	}
}

func (s *server) rootKey(t *testing.T) xssh.Signer {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := xssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "keys/root"), xssh.MarshalAuthorizedKey(signer.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	return signer
}

func (s *server) plan(t *testing.T, opt Options) *remediations.Plan {
	t.Helper()
	env := host.DefaultEnv()
	p, err := BuildPlan(context.Background(), env, sshcheck.Gather(context.Background(), env, opt.Check), opt)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (s *server) probe(t *testing.T) sshcheck.ProbeResult {
	t.Helper()
	return sshcheck.Probe(context.Background(), s.addr, "root", 3*time.Second)
}

// TestFixWithAdminKey: root has an ED25519 key, so everything is fixed; the
// running server then offers what the checks want, and the key still logs
// in.
func TestFixWithAdminKey(t *testing.T) {
	s := startDefault(t)
	signer := s.rootKey(t)
	opt := s.options()
	p := s.plan(t, opt)
	if len(p.Refusals) != 0 {
		t.Fatalf("refusals: %v", p.Refusals)
	}
	e := &remediations.Engine{Dir: filepath.Join(s.dir, "state")}
	if _, err := e.Apply(context.Background(), p); err != nil {
		t.Fatalf("%v\n%s", err, s.log)
	}
	r := s.probe(t)
	if !slices.Equal(r.AuthMethods, []string{"publickey"}) || !slices.Equal(r.HostKeyAlgorithms, []string{"ssh-ed25519"}) {
		t.Errorf("after the fix the server offers %v / %v", r.AuthMethods, r.HostKeyAlgorithms)
	}
	conn, err := net.DialTimeout("tcp", s.addr, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c, _, _, err := xssh.NewClientConn(conn, s.addr, &xssh.ClientConfig{User: "root", Auth: []xssh.AuthMethod{xssh.PublicKeys(signer)},
		HostKeyCallback: xssh.InsecureIgnoreHostKey(), Timeout: 3 * time.Second})
	if err != nil {
		t.Fatalf("the ED25519 key no longer logs in: %v", err)
	}
	c.Close()
	if p2 := s.plan(t, opt); !p2.Empty() {
		t.Errorf("a second fix still plans %d change(s)", len(p2.Files))
	}
	main, _ := os.ReadFile(s.config)
	if !strings.Contains(string(main), "# Disabled by vigie fix (not ED25519): HostKey") {
		t.Errorf("RSA host key still configured:\n%s", main)
	}
	// undo brings the old server back.
	if _, err := e.Undo(context.Background(), "", func(ctx context.Context, _ string) error { return opt.Reload(ctx) }); err != nil {
		t.Fatal(err)
	}
	if r := s.probe(t); !slices.Contains(r.AuthMethods, "password") {
		t.Errorf("after undo the server offers %v", r.AuthMethods)
	}
}

// TestFixRefusesLockout: nobody who can administer the host has an ED25519
// key, so passwords stay on; the safe part (host key, crypto) is applied.
func TestFixRefusesLockout(t *testing.T) {
	s := startDefault(t)
	opt := s.options()
	p := s.plan(t, opt)
	if len(p.Refusals) == 0 || !strings.Contains(p.Refusals[0], "--force") {
		t.Fatalf("no refusal: %v", p.Refusals)
	}
	for _, fc := range p.Files {
		if bytes.Contains(fc.Content, []byte("PasswordAuthentication no")) {
			t.Fatalf("plan turns passwords off without an admin key:\n%s", fc.Content)
		}
	}
	e := &remediations.Engine{Dir: filepath.Join(s.dir, "state")}
	if _, err := e.Apply(context.Background(), p); err != nil {
		t.Fatalf("%v\n%s", err, s.log)
	}
	r := s.probe(t)
	if !slices.Contains(r.AuthMethods, "password") || !slices.Equal(r.HostKeyAlgorithms, []string{"ssh-ed25519"}) {
		t.Errorf("after the partial fix: %v / %v", r.AuthMethods, r.HostKeyAlgorithms)
	}
}

// TestFixRollsBackWhenSshdRefuses: sshd -t rejects the result (here, a
// drop-in directory sshd cannot read the new host key from), and the files
// come back byte for byte.
func TestFixRollsBackWhenSshdRefuses(t *testing.T) {
	s := startDefault(t)
	s.rootKey(t)
	opt := s.options()
	opt.HostKey = filepath.Join(s.dir, "missing-dir", "ssh_host_ed25519_key")
	p := s.plan(t, opt)
	// The key file goes where sshd cannot use it: make its directory
	// unreadable to sshd's checks by writing a key of the wrong kind.
	for i, fc := range p.Files {
		if fc.Path == opt.HostKey {
			p.Files[i].Content = []byte("not a key\n")
		}
	}
	before, _ := os.ReadFile(s.config)
	e := &remediations.Engine{Dir: filepath.Join(s.dir, "state")}
	if _, err := e.Apply(context.Background(), p); err == nil || !strings.Contains(err.Error(), "sshd -t") {
		t.Fatalf("err = %v", err)
	}
	after, _ := os.ReadFile(s.config)
	if !bytes.Equal(before, after) {
		t.Errorf("main file changed:\n%s", after)
	}
	if _, err := os.Stat(opt.DropIn); !os.IsNotExist(err) {
		t.Errorf("drop-in left behind: %v", err)
	}
	if r := s.probe(t); !slices.Contains(r.AuthMethods, "password") {
		t.Errorf("server changed: %v", r.AuthMethods)
	}
}

// sshdT is the running configuration's sshd -T.
func (s *server) sshdT(t *testing.T) sshcheck.Settings {
	t.Helper()
	out, err := exec.Command("/usr/sbin/sshd", "-T", "-f", s.config).Output()
	if err != nil {
		t.Fatalf("sshd -T: %v", err)
	}
	st, err := sshcheck.ParseSshdT(out)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestFixKeepsStricterSettings: a host stricter than the baseline in some
// ways (no root login at all, a short cipher list) and weaker in others (a
// NIST key exchange) comes out at least as strict everywhere, in the
// operator's order; a second fix changes nothing; a setting the operator
// tightens after the fix wins.
func TestFixKeepsStricterSettings(t *testing.T) {
	// Root cannot log in at all: a sudo member's ED25519 key keeps the
	// host administrable.
	var opt Options
	s := startWithSetup(t, func(s *server) string {
		opt = s.options()
		s.newAdmin(t, false, false, "sudo")
		s.sudoers(t, &opt, "%sudo ALL=(ALL:ALL) ALL\n")
		return "PermitRootLogin no\n" +
			"Ciphers aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr\n" +
			"KexAlgorithms curve25519-sha256,ecdh-sha2-nistp256,diffie-hellman-group16-sha512\n"
	})
	s.rootKey(t)
	e := &remediations.Engine{Dir: filepath.Join(s.dir, "state")}
	apply := func() {
		t.Helper()
		if _, err := e.Apply(context.Background(), s.plan(t, opt)); err != nil {
			t.Fatalf("%v\n%s", err, s.log)
		}
	}
	apply()
	dropIn, _ := os.ReadFile(opt.DropIn)
	for _, absent := range []string{"PermitRootLogin", "Ciphers"} {
		if bytes.Contains(dropIn, []byte(absent)) {
			t.Errorf("the drop-in sets %s, which already complied:\n%s", absent, dropIn)
		}
	}
	got := s.sshdT(t)
	for key, want := range map[string]string{
		"permitrootlogin":        "no",
		"ciphers":                "aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr",
		"kexalgorithms":          "curve25519-sha256,diffie-hellman-group16-sha512",
		"passwordauthentication": "no",
	} {
		if got.Get(key) != want {
			t.Errorf("after the fix sshd -T says %s %s, want %s", key, got.Get(key), want)
		}
	}
	if p := s.plan(t, opt); !p.Empty() {
		t.Errorf("a second fix plans %d change(s)", len(p.Files))
	}
	// The operator now narrows the MACs in the main file, which the
	// drop-in (read first) had set from the defaults.
	if !bytes.Contains(dropIn, []byte("MACs ")) {
		t.Fatalf("the drop-in sets no MACs from the defaults, the next step tests nothing:\n%s", dropIn)
	}
	f, err := os.OpenFile(s.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("MACs hmac-sha2-512-etm@openssh.com\n")
	f.Close()
	apply()
	if got := s.sshdT(t).Get("macs"); got != "hmac-sha2-512-etm@openssh.com" {
		t.Errorf("after the operator narrowed the MACs and fixed again, sshd -T says macs %s", got)
	}
}

// TestValidateCatchesUnstartableSshd: sshd -t accepts a ListenAddress that
// is no address of this host, and sshd reloaded on it dies; the fix's
// validation refuses it before any reload, and lets through a
// configuration with at least one address it can listen on.
func TestValidateCatchesUnstartableSshd(t *testing.T) {
	s := startDefault(t)
	opt := s.options()
	for _, tt := range []struct {
		name, listen string
		ok           bool
	}{
		{"no address of this host", "ListenAddress 192.0.2.55:2222\n", false},
		{"one address of this host", "ListenAddress 192.0.2.55:2222\nListenAddress 127.0.0.1:2222\n", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := filepath.Join(s.dir, "etc/ssh/latent_config")
			if err := os.WriteFile(cfg, []byte("HostKey "+filepath.Join(s.dir, "etc/ssh/ssh_host_ecdsa_key")+"\n"+tt.listen), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("/usr/sbin/sshd", "-t", "-f", cfg).CombinedOutput(); err != nil {
				t.Fatalf("sshd -t refuses the test's configuration, which tests nothing: %v %s", err, out)
			}
			o := opt
			o.Check.ConfigPath = cfg
			err := canListen(context.Background(), host.DefaultEnv(), o)
			if tt.ok != (err == nil) || !tt.ok && !strings.Contains(err.Error(), "sshd could not start on it: it can listen on none of its addresses (192.0.2.55:2222: ") {
				t.Errorf("canListen: %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
