//go:build vmtest

package vmtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// guestUser is the default account of Debian's cloud-init configuration: it
// gets the test's key from the seed's meta-data and has passwordless sudo.
const guestUser = "debian"

// sshKey is an ED25519 key pair generated for one test.
type sshKey struct {
	Private, Public string
}

func newSSHKey(t *testing.T, dir string) sshKey {
	t.Helper()
	p := filepath.Join(dir, "id_ed25519")
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vigie-vmtest", "-f", p)
	pub, err := os.ReadFile(p + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return sshKey{Private: p, Public: strings.TrimSpace(string(pub))}
}

// noHostCheck keeps the guest's fresh host keys out of any known_hosts.
var noHostCheck = []string{
	"-o", "StrictHostKeyChecking=no",
	"-o", "UserKnownHostsFile=/dev/null",
	"-o", "GlobalKnownHostsFile=/dev/null",
	"-o", "BatchMode=yes",
	"-o", "ConnectTimeout=10",
}

// guestSSH runs a command in the guest as the default user, with a deadline.
func guestSSH(port int, key sshKey, timeout time.Duration, command string, stdin []byte) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := append([]string{"-F", "/dev/null", "-i", key.Private, "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR",
		"-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", "-p", strconv.Itoa(port)}, noHostCheck...)
	args = append(args, guestUser+"@127.0.0.1", command)
	cmd := exec.CommandContext(ctx, "ssh", args...)
	cmd.WaitDelay = 5 * time.Second
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("ssh %q: no answer within %s", command, timeout)
	}
	if err != nil {
		return string(out), fmt.Errorf("ssh %q: %w", command, err)
	}
	return string(out), nil
}

// waitSSH waits until the guest accepts the test's key, or fails the test
// when qemu ends or the deadline passes.
func (v *vm) waitSSH(t *testing.T, key sshKey, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for {
		if v.exited() {
			t.Fatalf("qemu ended before ssh came up (%v)\n%s", v.waitErr, v.consoleTail(60))
		}
		out, err := guestSSH(v.cfg.SSHPort, key, 20*time.Second, "true", nil)
		if err == nil {
			return
		}
		last = strings.TrimSpace(out + " " + err.Error())
		if time.Now().After(deadline) {
			t.Fatalf("guest ssh not reachable within %s (last: %s)\n%s", within, last, v.consoleTail(60))
		}
		time.Sleep(3 * time.Second)
	}
}

// waitBootFinished waits until cloud-init has run its final stage (runcmd
// included): it writes boot-finished last. `cloud-init status --wait` is not
// enough: between two stages it may already report an error and return.
func (v *vm) waitBootFinished(t *testing.T, key sshKey, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if v.exited() {
			t.Fatalf("qemu ended before cloud-init finished (%v)\n%s", v.waitErr, v.consoleTail(60))
		}
		if _, err := guestSSH(v.cfg.SSHPort, key, 20*time.Second, "test -e /var/lib/cloud/instance/boot-finished", nil); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cloud-init did not finish within %s\n%s", within, v.consoleTail(60))
		}
		time.Sleep(5 * time.Second)
	}
}

// outsideView is what the OpenSSH client sees of the guest's sshd.
type outsideView struct {
	HostKeyAlgorithms []string // the server's KEXINIT proposal
	KexAlgorithms     []string // the same proposal's key exchanges
	KeyTypes          []string // ssh-keyscan's key types
	AuthMethods       []string // offered after the "none" method
	Raw               string
}

var (
	reAuthContinue = regexp.MustCompile(`Authentications that can continue: (\S+)`)
	reHostKeyAlgs  = regexp.MustCompile(`^debug2: host key algorithms: (\S+)`)
	reKexAlgs      = regexp.MustCompile(`^debug2: KEX algorithms: (\S+)`)
)

// probeFromOutside asks the guest's sshd, through the forwarded loopback
// port, which host key algorithms and authentication methods it offers.
func probeFromOutside(port int) (outsideView, error) {
	var view outsideView
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"-F", "/dev/null", "-vv", "-o", "PreferredAuthentications=none", "-p", strconv.Itoa(port)}, noHostCheck...)
	args = append(args, "root@127.0.0.1", "true")
	cmd := exec.CommandContext(ctx, "ssh", args...)
	out, _ := cmd.CombinedOutput() // fails by design: "none" is refused
	view.Raw = string(out)
	peer := false
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.Contains(line, "peer server KEXINIT proposal") {
			peer = true
			continue
		}
		if m := reHostKeyAlgs.FindStringSubmatch(line); peer && m != nil && view.HostKeyAlgorithms == nil {
			view.HostKeyAlgorithms = strings.Split(m[1], ",")
		}
		if m := reKexAlgs.FindStringSubmatch(line); peer && m != nil && view.KexAlgorithms == nil {
			view.KexAlgorithms = strings.Split(m[1], ",")
		}
		if m := reAuthContinue.FindStringSubmatch(line); m != nil && view.AuthMethods == nil {
			view.AuthMethods = strings.Split(m[1], ",")
		}
	}
	if view.HostKeyAlgorithms == nil || view.AuthMethods == nil {
		return view, fmt.Errorf("ssh -vv gave no server KEXINIT or auth methods:\n%s", tailLines(view.Raw, 30))
	}

	// One key type at a time, with a generous timeout: under TCG a loaded
	// guest can take more than ssh-keyscan's default 5 s to answer, and
	// parallel scans then lose a type silently. A type the server does not
	// offer fails fast (no matching host key), so a retry costs little.
	for _, typ := range []string{"rsa", "ecdsa", "ed25519"} {
		for attempt := 0; attempt < 2; attempt++ {
			types, err := keyscan(port, typ)
			if err != nil {
				return view, err
			}
			if len(types) > 0 {
				view.KeyTypes = append(view.KeyTypes, types...)
				break
			}
		}
	}
	sort.Strings(view.KeyTypes)
	if len(view.KeyTypes) == 0 {
		return view, fmt.Errorf("ssh-keyscan found no host key")
	}
	return view, nil
}

// keyscan returns the key types ssh-keyscan gets for one -t type.
func keyscan(port int, typ string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ssh-keyscan", "-T", "30", "-t", typ, "-p", strconv.Itoa(port), "127.0.0.1").Output()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("ssh-keyscan -t %s: no answer within 90s", typ)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 && len(bytes.TrimSpace(out)) == 0 {
		// No key of that type: a hardened server offers ED25519 only.
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ssh-keyscan -t %s: %w", typ, err)
	}
	var types []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && !strings.HasPrefix(line, "#") {
			types = append(types, f[1])
		}
	}
	return types, nil
}

// keyType maps a host key algorithm to the type of key behind it:
// rsa-sha2-512, rsa-sha2-256 and ssh-rsa are all an ssh-rsa key.
func keyType(alg string) string {
	alg = strings.TrimSuffix(alg, "-cert-v01@openssh.com")
	switch alg {
	case "rsa-sha2-256", "rsa-sha2-512":
		return "ssh-rsa"
	}
	return alg
}

func keyTypes(algs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range algs {
		if k := keyType(a); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
