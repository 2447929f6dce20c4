package ssh

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	sshcheck "github.com/vigie-agent/vigie/checks/ssh"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/units"
	"github.com/vigie-agent/vigie/internal/testenv"
)

// TestKeepOpenSocket reads an image whose sshd_config leaves Port 22 and
// whose ssh.socket a drop-in moved to 2222: both ports stay open, 2222
// because systemd listens there from the next boot, 22 because sshd does
// again if the socket is turned off.
func TestKeepOpenSocket(t *testing.T) {
	root := t.TempDir()
	for p, data := range map[string]string{
		"etc/ssh/sshd_config":                       "PasswordAuthentication no\n",
		"usr/lib/systemd/system/ssh.socket":         "[Socket]\nListenStream=22\nAccept=no\n[Install]\nWantedBy=sockets.target\n",
		"etc/systemd/system/ssh.socket.d/port.conf": "[Socket]\nListenStream=\nListenStream=2222\n",
	} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := &host.Env{Root: root, Proc: "/proc", Sys: "/sys", Cmd: host.Replay{}}
	r := New(sshcheck.DefaultOptions())
	if got := r.KeepOpen(context.Background(), env); !slices.Equal(got, []int{22}) {
		t.Errorf("socket not enabled: %v, want [22]", got)
	}
	wants := filepath.Join(root, "etc/systemd/system/sockets.target.wants")
	if err := os.MkdirAll(wants, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/lib/systemd/system/ssh.socket", filepath.Join(wants, "ssh.socket")); err != nil {
		t.Fatal(err)
	}
	if got := r.KeepOpen(context.Background(), env); !slices.Equal(got, []int{22, 2222}) {
		t.Errorf("socket enabled: %v, want [22 2222]", got)
	}
}

// TestReloadWaitsOnSocket reloads a real sshd described as socket-activated:
// the reload waits on the socket's addresses, not on sshd's listenaddress.
func TestReloadWaitsOnSocket(t *testing.T) {
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd runs here: the reload would go to the host's ssh.service")
	}
	s := startDefault(t)
	opt := s.options().Check
	opt.Probe = false
	f := sshcheck.Gather(context.Background(), host.DefaultEnv(), opt)
	dead := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	f.Socket = &units.Socket{Unit: "ssh.socket", Via: units.ViaDBus, ActiveState: "active", Listen: []units.Listen{{Type: "Stream", Address: dead}}}
	err := reloaderOf(f)(context.Background())
	if err == nil || !strings.Contains(err.Error(), dead) || !strings.Contains(err.Error(), "ssh.socket") {
		t.Fatalf("socket on %s, where nothing listens: %v, want an error naming it and ssh.socket", dead, err)
	}
	f.Socket.Listen = []units.Listen{{Type: "Stream", Address: s.addr}}
	if err := reloaderOf(f)(context.Background()); err != nil {
		t.Fatalf("socket on %s: %v\n%s", s.addr, err, s.log)
	}
	if got := keepOpen(f); len(got) != 1 {
		t.Errorf("keepOpen %v: one port, sshd's and the socket's", got)
	}
}
