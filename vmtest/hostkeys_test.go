//go:build vmtest

package vmtest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// checkED25519OnlyHostKeys leaves the guest with only its ED25519 host key,
// as cloud-init's `ssh_genkeytypes: [ed25519]` does, and no HostKey line:
// sshd -T still lists the RSA and ECDSA default paths, sshd skips them, the
// server offers only ssh-ed25519, and ssh.host-keys passes. The RSA and
// ECDSA keys are moved aside, then put back with sshd restarted, so the
// later steps see the guest as it was. Errors, not fatal: the caller still
// powers off or goes on.
func checkED25519OnlyHostKeys(t *testing.T, port int, key sshKey, vigie string) {
	t.Helper()
	run := func(cmd string) (string, bool) {
		t.Helper()
		out, err := guestSSH(port, key, 2*time.Minute, cmd, nil)
		if err != nil {
			t.Errorf("%s: %v\n%s", cmd, err, out)
			return out, false
		}
		return out, true
	}
	// sshd's default paths apply only where no HostKey line is written.
	out, ok := run("sudo grep -rHin '^[[:space:]]*hostkey[[:space:]=]' /etc/ssh/sshd_config /etc/ssh/sshd_config.d/ || true")
	if !ok {
		return
	}
	if strings.TrimSpace(out) != "" {
		t.Errorf("the guest's sshd configuration has HostKey lines, so sshd's defaults do not apply:\n%s", out)
		return
	}
	// ssh.service when it runs; under ssh.socket (Accept=no) the next
	// connection starts an sshd that reads the keys afresh.
	const restart = "sudo systemctl try-restart ssh.service"
	if _, ok := run("sudo mkdir -p /root/vigie-hostkeys && sudo mv /etc/ssh/ssh_host_rsa_key /etc/ssh/ssh_host_rsa_key.pub /etc/ssh/ssh_host_ecdsa_key /etc/ssh/ssh_host_ecdsa_key.pub /root/vigie-hostkeys/ && " + restart); !ok {
		return
	}
	defer run("sudo sh -c 'mv /root/vigie-hostkeys/* /etc/ssh/ && rmdir /root/vigie-hostkeys' && " + restart)

	keyscan, ok := run("ssh-keyscan -T 20 127.0.0.1 2>/dev/null | grep -v '^#' | awk '{print $2}' | sort -u")
	if !ok {
		return
	}
	if strings.TrimSpace(keyscan) != "ssh-ed25519" {
		t.Errorf("with only the ED25519 host key file, ssh-keyscan in the guest sees %q, want ssh-ed25519 only", keyscan)
	}
	rep, ok := guestCheck(t, port, key, vigie+" check --only ssh --json")
	if !ok {
		return
	}
	f, ok := rep.finding("ssh.host-keys")
	if !ok || f.Status != "pass" {
		t.Errorf("ssh.host-keys with only the ED25519 host key and no HostKey line: %+v, want pass", f)
		return
	}
	values := map[string]string{}
	for _, e := range f.Evidence {
		var v string
		_ = json.Unmarshal(e.Value, &v)
		values[e.Subject] = v
	}
	for _, p := range []string{"/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_ecdsa_key"} {
		if want := "default path, file absent: not loaded by sshd"; values[p] != want {
			t.Errorf("ssh.host-keys evidence for %s: %q, want %q", p, values[p], want)
		}
	}
	t.Logf("host keys in the guest: keyscan %s; ssh.host-keys %s: %s", strings.TrimSpace(keyscan), f.Status, f.Reason)
}
