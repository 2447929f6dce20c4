package ssh

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/units"
	"github.com/vigie-agent/vigie/internal/testenv"
)

// socketRoot is a system whose ssh.socket (Debian's unit, enabled) was
// moved by a drop-in to listen, as the operator wrote it.
func socketRoot(t *testing.T, listen string) string {
	t.Helper()
	root := t.TempDir()
	for p, data := range map[string]string{
		"usr/lib/systemd/system/ssh.socket":         "[Unit]\nDescription=OpenBSD Secure Shell server socket\n\n[Socket]\nListenStream=22\nAccept=no\n\n[Install]\nWantedBy=sockets.target\n",
		"etc/systemd/system/ssh.socket.d/port.conf": "[Socket]\nListenStream=\nListenStream=" + listen + "\n",
	} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wants := filepath.Join(root, "etc/systemd/system/sockets.target.wants")
	if err := os.MkdirAll(wants, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/lib/systemd/system/ssh.socket", filepath.Join(wants, "ssh.socket")); err != nil {
		t.Fatal(err)
	}
	return root
}

// socketServer is a real sshd reached only where a socket unit says: it
// listens on s.addr while its configuration names another port, where
// nothing listens, as sshd_config's Port 22 is left behind when ssh.socket
// moves to another port.
func socketServer(t *testing.T, scenario string) *liveServer {
	t.Helper()
	s, _ := startSshd(t, scenario)
	b, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	stale := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	moved := strings.Replace(string(b), "ListenAddress "+s.addr+"\n", "ListenAddress "+stale+"\n", 1)
	if moved == string(b) {
		t.Fatalf("no ListenAddress %s in %s", s.addr, s.config)
	}
	if err := os.WriteFile(s.config, []byte(moved), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *liveServer) gatherWith(t *testing.T, sock *units.Socket) *Facts {
	t.Helper()
	opt := DefaultOptions()
	opt.ConfigPath = s.config
	opt.ProbeTimeout = 3 * time.Second
	return gather(context.Background(), host.DefaultEnv(), opt, sock)
}

func probeFinding(t *testing.T, f *Facts) checks.Finding {
	t.Helper()
	for _, r := range Evaluate(f) {
		if r.ID == IDLiveProbe {
			return r
		}
	}
	t.Fatal("no live probe finding")
	return checks.Finding{}
}

// TestLiveSocketActivated: sshd answers only on the address ssh.socket
// gives, read from the unit files of a test root; the probe goes there,
// says so, and judges what it meets.
func TestLiveSocketActivated(t *testing.T) {
	testenv.Sshd(t)
	for _, tt := range []struct {
		scenario string
		status   checks.Status
		reason   string
	}{
		{"debian-default", checks.Fail, "allows"},
		{"hardened", checks.Pass, "offers only ED25519"},
	} {
		t.Run(tt.scenario, func(t *testing.T) {
			s := socketServer(t, tt.scenario)
			pub, _, _ := ed25519.GenerateKey(rand.Reader)
			pk, _ := xssh.NewPublicKey(pub)
			s.authorize(t, pk, "operator@laptop")

			// Without the socket, the probe goes where sshd -T says and
			// finds nothing there.
			if r := probeFinding(t, s.gatherWith(t, nil)); r.Status != checks.Skip || !strings.Contains(r.Reason, "not running") {
				t.Fatalf("without the socket: %s %q, want skip: nothing listens where sshd_config says", r.Status, r.Reason)
			}

			_, port, _ := strings.Cut(s.addr, ":")
			for _, l := range []struct{ listen, shown string }{{s.addr, s.addr}, {port, ":" + port}} {
				listen := l.listen
				sock := units.SSHSocket(context.Background(), &host.Env{Root: socketRoot(t, listen)})
				if sock == nil {
					t.Fatal("ssh.socket not found in the test root")
				}
				f := s.gatherWith(t, sock)
				if !f.SocketActivated() {
					t.Fatalf("ListenStream=%s: not socket-activated: %+v", listen, sock)
				}
				var probed []string
				for _, p := range f.Probes {
					probed = append(probed, p.Address)
				}
				// A bare port is every address: probed on loopback.
				if !slices.Equal(probed, []string{s.addr}) {
					t.Errorf("ListenStream=%s: probed %v, want [%s]", listen, probed, s.addr)
				}
				r := probeFinding(t, f)
				if r.Status != tt.status || !strings.Contains(r.Reason, tt.reason) || !strings.Contains(r.Reason, "ssh.socket") {
					t.Errorf("ListenStream=%s: %s %q, want %s naming ssh.socket", listen, r.Status, r.Reason, tt.status)
				}
				found := false
				for _, e := range r.Evidence {
					if e.Subject == "ssh.socket" && e.Key == "listen_stream" && e.Source == units.ViaFiles {
						found = slices.Equal(e.Value.([]string), []string{l.shown})
					}
				}
				if !found {
					t.Errorf("ListenStream=%s: no ssh.socket evidence: %+v", listen, r.Evidence)
				}
			}
			assertNoCredentialsSent(t, s)
		})
	}
}

// TestSocketNotInUse: a socket unit that is installed but neither active
// nor enabled changes nothing; one that is enabled but stopped (D-Bus
// says so) leaves sshd's own addresses in force.
func TestSocketNotInUse(t *testing.T) {
	f := &Facts{Global: Settings{"listenaddress": {"0.0.0.0:22"}}}
	if got := f.Listening(); !slices.Equal(got, []string{"0.0.0.0:22"}) {
		t.Errorf("no socket: %v", got)
	}
	f.Socket = &units.Socket{Unit: "ssh.socket", Via: units.ViaDBus, ActiveState: "inactive", FileState: "enabled",
		Listen: []units.Listen{{Type: "Stream", Address: "[::]:2222"}}}
	if f.SocketActivated() || !slices.Equal(f.Listening(), []string{"0.0.0.0:22"}) {
		t.Errorf("stopped socket: activated %v, listening %v", f.SocketActivated(), f.Listening())
	}
	if ev := f.socketEvidence(); len(ev) == 0 || !strings.Contains(ev[0].Want, "not in use now (inactive, enabled)") {
		t.Errorf("evidence %+v", ev)
	}
	f.Socket.ActiveState = "active"
	if !f.SocketActivated() || !slices.Equal(f.Listening(), []string{"[::]:2222"}) || !slices.Equal(ProbeTargets(f.Listening()), []string{"[::1]:2222"}) {
		t.Errorf("active socket: activated %v, listening %v", f.SocketActivated(), f.Listening())
	}
}
