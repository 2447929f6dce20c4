package ssh

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/internal/testenv"
)

// liveServer is a real sshd on a loopback port, started from a scenario.
type liveServer struct {
	dir, config, addr, keys string
	cmd                     *exec.Cmd
	mu                      sync.Mutex
	log                     bytes.Buffer
}

func (s *liveServer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.Write(p)
}

func (s *liveServer) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// installLive writes scenario name into dir, listening on addr, with keys
// read from keys/%u.
func installLive(t *testing.T, name, dir, keys, addr string) []expectation {
	t.Helper()
	sshdir := filepath.Join(dir, "etc", "ssh")
	exp := installScenario(t, name, dir, sshdir, "/")
	cfg := filepath.Join(sshdir, "sshd_config")
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "\nListenAddress %s\nPidFile none\nAuthorizedKeysFile %s/%%u\n", addr, keys); err != nil {
		t.Fatal(err)
	}
	return exp
}

// startSshd runs /usr/sbin/sshd -D -e on a scenario until the test ends.
func startSshd(t *testing.T, scenario string) (*liveServer, []expectation) {
	t.Helper()
	dir := t.TempDir()
	// The key files live where sshd's StrictModes accepts them (and vigie
	// with it): not under /tmp, which others can write.
	keys, err := os.MkdirTemp("/run", "vigie-live-keys-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(keys) })
	if err := os.Chmod(keys, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &liveServer{dir: dir, addr: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), keys: keys}
	exp := installLive(t, scenario, dir, keys, s.addr)
	s.config = filepath.Join(dir, "etc", "ssh", "sshd_config")
	s.cmd = exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", s.config)
	s.cmd.Stdout, s.cmd.Stderr = s, s
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %s: %v\n%s", s.addr, err, s.logText())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s, exp
}

// authorize writes an authorized_keys file for root holding key.
func (s *liveServer) authorize(t *testing.T, pub xssh.PublicKey, comment string) {
	t.Helper()
	line := strings.TrimSpace(string(xssh.MarshalAuthorizedKey(pub))) + " " + comment + "\n"
	if err := os.WriteFile(filepath.Join(s.keys, "root"), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (s *liveServer) run(t *testing.T) map[string]checks.Finding {
	t.Helper()
	opt := DefaultOptions()
	opt.ConfigPath = s.config
	opt.ProbeTimeout = 3 * time.Second
	out := map[string]checks.Finding{}
	for _, f := range New(opt).Run(context.Background(), host.DefaultEnv()) {
		out[f.ID] = f
	}
	return out
}

func evidenceValue(f checks.Finding, subject, key string) []string {
	for _, e := range f.Evidence {
		if e.Subject == subject && e.Key == key {
			if v, ok := e.Value.([]string); ok {
				return v
			}
		}
	}
	return nil
}

func TestLiveHardened(t *testing.T) {
	testenv.Sshd(t)
	s, exp := startSshd(t, "hardened")
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	pk, _ := xssh.NewPublicKey(pub)
	s.authorize(t, pk, "operator@laptop")
	got := s.run(t)
	for id, f := range got {
		if f.Status != checks.Pass && id != IDProviderKeys { // off Scaleway: skipped
			t.Errorf("%s: %s: %s", id, f.Status, f.Reason)
		}
		if id == IDProviderKeys && f.Status != checks.Skip {
			t.Errorf("%s: %s: %s", id, f.Status, f.Reason)
		}
	}
	var list []checks.Finding
	for _, f := range got {
		list = append(list, f)
	}
	assertFindings(t, list, exp)
	probe := got[IDLiveProbe]
	if m := evidenceValue(probe, s.addr, "auth_methods"); !slices.Equal(m, []string{"publickey"}) {
		t.Errorf("auth methods seen %v, want [publickey]", m)
	}
	if h := evidenceValue(probe, s.addr, "host_key_algorithms"); !slices.Equal(h, []string{"ssh-ed25519"}) {
		t.Errorf("host key algorithms seen %v, want [ssh-ed25519]", h)
	}
	assertNoCredentialsSent(t, s)
}

func TestLiveDebianDefault(t *testing.T) {
	testenv.Sshd(t)
	s, _ := startSshd(t, "debian-default")
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := xssh.NewPublicKey(&rk.PublicKey)
	s.authorize(t, pk, "old-rsa@laptop")
	got := s.run(t)
	for _, id := range []string{IDPasswordAuth, IDHostKeys, IDLiveProbe, IDAuthorizedKeys, IDPubkeyAlgs} {
		if got[id].Status != checks.Fail {
			t.Errorf("%s: %s (%s), want fail", id, got[id].Status, got[id].Reason)
		}
	}
	if got[IDRootLogin].Status != checks.Pass {
		t.Errorf("%s: %s, want pass", IDRootLogin, got[IDRootLogin].Status)
	}
	probe := got[IDLiveProbe]
	if m := evidenceValue(probe, s.addr, "auth_methods"); !slices.Contains(m, "password") || !slices.Contains(m, "publickey") {
		t.Errorf("auth methods seen %v, want publickey and password", m)
	}
	h := evidenceValue(probe, s.addr, "host_key_algorithms")
	for _, want := range []string{"ssh-ed25519", "rsa-sha2-512", "ecdsa-sha2-nistp256"} {
		if !slices.Contains(h, want) {
			t.Errorf("host key algorithms %v lack %s", h, want)
		}
	}
	keyFile := filepath.Join(s.keys, "root")
	found := false
	for _, e := range got[IDAuthorizedKeys].Evidence {
		if e.File == keyFile && e.Line == 1 && !e.OK && strings.HasPrefix(fmt.Sprint(e.Value), "ssh-rsa old-rsa@laptop") {
			found = true
		}
	}
	if !found {
		t.Errorf("authorized-keys evidence lacks %s:1 ssh-rsa: %+v", keyFile, got[IDAuthorizedKeys].Evidence)
	}
	assertNoCredentialsSent(t, s)
}

// TestLiveNotReloaded writes a hardened configuration under a running
// default sshd without reloading it: the configuration checks pass, and only
// the live probe sees what clients really meet.
func TestLiveNotReloaded(t *testing.T) {
	testenv.Sshd(t)
	s, _ := startSshd(t, "debian-default")
	if err := os.RemoveAll(filepath.Join(s.dir, "etc")); err != nil {
		t.Fatal(err)
	}
	installLive(t, "hardened", s.dir, s.keys, s.addr)
	got := s.run(t)
	if got[IDPasswordAuth].Status != checks.Pass || got[IDHostKeys].Status != checks.Pass {
		t.Fatalf("configuration on disk should pass: %s %s / %s %s", got[IDPasswordAuth].Status, got[IDPasswordAuth].Reason, got[IDHostKeys].Status, got[IDHostKeys].Reason)
	}
	if got[IDLiveProbe].Status != checks.Fail {
		t.Fatalf("live probe: %s (%s), want fail: the running server still allows passwords", got[IDLiveProbe].Status, got[IDLiveProbe].Reason)
	}
	if !strings.Contains(got[IDLiveProbe].Reason, "password") {
		t.Errorf("live probe reason %q does not name password", got[IDLiveProbe].Reason)
	}
}

// assertNoCredentialsSent reads sshd's own log: the probe must end at the
// method list, never attempting a password or a key.
func assertNoCredentialsSent(t *testing.T, s *liveServer) {
	t.Helper()
	// sshd logs the close asynchronously, late on a loaded machine.
	log := s.logText()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(log, "Connection closed by authenticating user root") && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		log = s.logText()
	}
	for _, bad := range []string{"Failed password", "Failed publickey", "Accepted", "Failed keyboard"} {
		if strings.Contains(log, bad) {
			t.Errorf("sshd logged %q: the probe sent credentials\n%s", bad, log)
		}
	}
	if !strings.Contains(log, "Connection closed by authenticating user root") {
		t.Errorf("sshd did not log the probe's unauthenticated close:\n%s", log)
	}
}
