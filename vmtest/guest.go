//go:build vmtest

package vmtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/internal/testenv"
)

// guest is a booted guest whose cloud-init has finished.
type guest struct {
	t    *testing.T
	v    *vm
	port int
	key  sshKey
}

// bootGuest boots a default guest with the cloud-init example userData
// (a file under packaging/cloud-init/; "" for the user-data the test wrote
// in cfg.UserData), its placeholder replaced by the URL the guest fetches
// artifact from, and waits for cloud-init. cfg adds forwards and reboot;
// the guest is powered off when the test ends.
func bootGuest(t *testing.T, name, userData, placeholder, artifact string, cfg vmConfig) *guest {
	t.Helper()
	needTools(t)
	cfg.Image = ensureImage(t, cfg.Suite)
	cfg.Dir = runDir(t, name)
	key := newSSHKey(t, cfg.Dir)
	urlPath := "/" + filepath.Base(artifact)
	cfg.FileSrv, _ = serveFile(t, artifact, urlPath)
	template := []byte(cfg.UserData)
	if userData != "" {
		var err error
		if template, err = os.ReadFile(filepath.Join("..", userData)); err != nil {
			t.Fatal(err)
		}
	}
	cfg.UserData = strings.Replace(string(template), placeholder, "http://"+cfg.fileAddr()+urlPath, 1)
	cfg.MetaData = fmt.Sprintf("instance-id: vigie-vmtest-%s-%d\nlocal-hostname: vigie-guest\npublic-keys:\n  - %s\n", name, time.Now().UnixNano(), key.Public)
	cfg.SSHPort = testenv.FreePort(t)
	start := time.Now()
	v := startVM(t, cfg)
	g := &guest{t: t, v: v, port: cfg.SSHPort, key: key}
	t.Cleanup(func() {
		_, _ = guestSSH(g.port, key, 30*time.Second, "sudo systemctl poweroff", nil)
		if err := v.waitExit(powerOffWithin); err != nil {
			v.stop(forcedStopWithin)
		}
	})
	v.waitSSH(t, key, sshUpWithin)
	sshUp := time.Since(start)
	v.waitBootFinished(t, key, cloudInitWithin)
	t.Logf("timings: ssh up %s, cloud-init done %s", sshUp.Round(time.Second), time.Since(start).Round(time.Second))
	return g
}

// sh runs a command in the guest and fails the test if it fails.
func (g *guest) sh(cmd string, stdin []byte) string {
	g.t.Helper()
	out, err := guestSSH(g.port, g.key, 5*time.Minute, cmd, stdin)
	if err != nil {
		g.t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return out
}

// read runs a command that only reads, at a moment when sshd may be
// restarting under the test (a revert reactivating it right after a
// boot): a connection cut by the restart (ssh's exit status 255) is
// tried again for up to a minute. A login the key no longer gets is not
// hidden: mustLogIn is the check for that.
func (g *guest) read(cmd string) string {
	g.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := guestSSH(g.port, g.key, 5*time.Minute, cmd, nil)
		if err == nil {
			return out
		}
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 255 || time.Now().After(deadline) {
			g.t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		time.Sleep(3 * time.Second)
	}
}

// hardReset resets the guest as a power cut or the provider console's
// hard reboot would (no service is stopped first), once the disks are
// synced, and waits until SSH answers again.
func (g *guest) hardReset() {
	g.t.Helper()
	g.restart("hard reset", "sudo sh -c 'sync; echo 1 > /proc/sys/kernel/sysrq; echo b > /proc/sysrq-trigger'", 5*time.Second)
}

// reboot restarts the guest and waits until SSH answers again.
func (g *guest) reboot() {
	g.t.Helper()
	g.restart("reboot", "sudo systemctl reboot", 10*time.Second)
}

// restart runs cmd, which takes the guest down, and waits until SSH
// answers again.
func (g *guest) restart(what, cmd string, down time.Duration) {
	g.t.Helper()
	start := time.Now()
	_, _ = guestSSH(g.port, g.key, 30*time.Second, cmd, nil)
	time.Sleep(down)
	g.v.waitSSH(g.t, g.key, sshUpWithin)
	g.t.Logf("timings: %s, ssh up again %s", what, time.Since(start).Round(time.Second))
}

// mustLogIn fails the test when the harness's ED25519 key no longer logs
// in from outside.
func (g *guest) mustLogIn(when string) {
	g.t.Helper()
	if out, err := guestSSH(g.port, g.key, 2*time.Minute, "true", nil); err != nil {
		g.t.Fatalf("%s: the ED25519 key no longer logs in from outside: %v\n%s\n%s", when, err, out, g.v.consoleTail(20))
	}
}
