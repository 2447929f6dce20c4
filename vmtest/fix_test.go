//go:build vmtest

package vmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/internal/testenv"
)

// echoPort is a service nobody allowed: a listener the fix must cut off.
const echoPort = 8080

// readForwarded connects to a forwarded port and reads what the guest
// sends. Through qemu's user network the host side always connects; a
// guest that drops the packets shows as no data.
func readForwarded(port int) string {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	b, _ := io.ReadAll(c)
	return string(b)
}

// TestFixSSHFirewall: a default guest runs packaging/cloud-init/harden.yaml
// verbatim (URL substituted): `vigie fix --yes --only ssh,firewall` at first
// boot; then checkHardened looks at it from outside and across a reboot.
func TestFixSSHFirewall(t *testing.T) {
	echo := testenv.FreePort(t)
	g := bootGuest(t, "fix", "packaging/cloud-init/harden.yaml", binaryPlaceholder, artifact(t, "VIGIE_BINARY", "bin/vigie"),
		vmConfig{ExtraFwd: map[int]int{echo: echoPort}, AllowReboot: true})
	if out := g.sh("sudo cloud-init status --long; sudo grep -h 'applied and verified' /var/log/cloud-init-output.log", nil); !strings.Contains(out, "status: done") || strings.Count(out, "applied and verified") != 2 {
		t.Fatalf("vigie fix at first boot:\n%s", out)
	}
	checkHardened(t, g, echo, "/usr/local/bin/vigie")

	// Undo of the firewall run: its boot unit disabled, stopped and gone
	// with vigie.nft, and vigie's table with them.
	log := g.sh("sudo grep -h 'firewall: applied and verified' /var/log/cloud-init-output.log", nil)
	_, rest, _ := strings.Cut(log, "(run ")
	run, _, _ := strings.Cut(rest, ";")
	if run == "" {
		t.Fatalf("no firewall run in %q", log)
	}
	if out := g.sh("sudo /usr/local/bin/vigie undo "+run, nil); !strings.Contains(out, "Disabled again, as the run had enabled them: vigie-firewall.service.") {
		t.Errorf("vigie undo %s:\n%s", run, out)
	}
	if out := g.sh("sudo systemctl is-enabled vigie-firewall.service 2>&1; sudo systemctl is-active vigie-firewall.service; test -e /etc/systemd/system/vigie-firewall.service && echo unit-file-left; test -e /etc/vigie/vigie.nft && echo nft-file-left; sudo nft list tables; true", nil); strings.Contains(out, "enabled") ||
		!strings.Contains(out, "inactive") || strings.Contains(out, "left") || strings.Contains(out, "inet vigie") {
		t.Errorf("after the undo of run %s:\n%s", run, out)
	}
}

// checkHardened looks at a guest after `vigie fix --only ssh,firewall`
// (vigie installed as the binary vigie, the guest booted with echo forwarded
// to echoPort and AllowReboot): from outside, password auth is refused, only
// an ED25519 host key is offered, the key still logs in, a forwarded port
// nobody allowed is dropped while the service answers inside. After a
// reboot the ruleset is back, `vigie check` passes both areas and its live
// probe sees what the OpenSSH client sees, which is still the hardened
// server. It returns that last view from outside.
func checkHardened(t *testing.T, g *guest, echo int, vigie string) outsideView {
	t.Helper()
	port, key := g.port, g.key
	sh := func(cmd string) string {
		t.Helper()
		return g.sh(cmd, nil)
	}
	startEcho := fmt.Sprintf("sudo systemd-run --unit=vigie-echo /usr/bin/systemd-socket-activate -l %d -a --inetd /bin/echo hello", echoPort)
	sh(startEcho)
	time.Sleep(2 * time.Second)
	// The service answers on the guest's own loopback...
	if out := sh(fmt.Sprintf("exec 3<>/dev/tcp/127.0.0.1/%d && timeout 5 cat <&3", echoPort)); !strings.Contains(out, "hello") {
		t.Fatalf("echo service does not answer inside the guest: %q", out)
	}

	hardenedOutside := func(when string) outsideView {
		t.Helper()
		outside, err := probeFromOutside(port)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if !slices.Equal(outside.AuthMethods, []string{"publickey"}) {
			t.Errorf("%s the server offers %v", when, outside.AuthMethods)
		}
		if !slices.Equal(outside.HostKeyAlgorithms, []string{"ssh-ed25519"}) || !slices.Equal(outside.KeyTypes, []string{"ssh-ed25519"}) {
			t.Errorf("%s: host key algorithms %v, keyscan %v", when, outside.HostKeyAlgorithms, outside.KeyTypes)
		}
		return outside
	}
	hardenedOutside("after the fix")
	// ...and not through the forwarded port.
	if got := readForwarded(echo); strings.Contains(got, "hello") {
		t.Errorf("the echo service answers through the firewall: %q", got)
	}

	// The fix persists through its own unit and leaves nftables.service
	// (whose nftables.conf flushes every table) as the image had it.
	persisted := func(when string) {
		t.Helper()
		out := sh("sudo systemctl is-enabled vigie-firewall.service nftables.service; sudo systemctl is-active vigie-firewall.service; true")
		if f := strings.Fields(out); len(f) != 3 || f[0] != "enabled" || f[1] == "enabled" || f[2] != "active" {
			t.Errorf("%s: is-enabled vigie-firewall.service nftables.service, is-active vigie-firewall.service: %q", when, f)
		}
	}
	persisted("after the fix")
	// Reboot: the ruleset must come back from the persisted file.
	g.reboot()
	persisted("after the reboot")
	if out, err := guestSSH(port, key, time.Minute, "sudo nft list table inet vigie", nil); err != nil {
		t.Fatalf("after the reboot table inet vigie is gone: %v\n%s", err, out)
	}
	raw, _ := guestSSH(port, key, 2*time.Minute, "sudo "+vigie+" check --only ssh,firewall --json; echo \"exit=$?\" >&2", nil)
	if i := strings.LastIndex(raw, "exit="); i >= 0 {
		raw = raw[:i]
	}
	var rep report
	if err := json.Unmarshal([]byte(raw), &rep); err != nil {
		t.Fatalf("decode: %v\n%s", err, raw)
	}
	for _, id := range []string{"ssh.password-auth", "ssh.root-login", "ssh.pubkey-algorithms", "ssh.host-keys", "ssh.crypto", "ssh.live-probe",
		"firewall.input-default-deny", "firewall.persistent"} {
		if f, ok := rep.finding(id); !ok || f.Status != "pass" {
			t.Errorf("after the reboot %s: %+v", id, f)
		}
	}
	outside := hardenedOutside("after the reboot")
	compareLiveProbe(t, rep, outside)
	// The service runs again, the firewall still drops it.
	sh(startEcho)
	time.Sleep(2 * time.Second)
	if out := sh(fmt.Sprintf("sudo ss -tlnH 'sport = :%d'", echoPort)); !strings.Contains(out, strconv.Itoa(echoPort)) {
		t.Fatalf("echo service not listening after the reboot:\n%s", out)
	}
	if got := readForwarded(echo); strings.Contains(got, "hello") {
		t.Errorf("after the reboot the echo service answers through the firewall: %q", got)
	}
	return outside
}
