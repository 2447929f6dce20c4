//go:build vmtest

package vmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
	"time"
)

const (
	// socketPort is where ssh.socket listens: sshd is socket-activated
	// on it only, and the harness's forward reaches it.
	socketPort    = 2222
	opsPassword   = "ops-vmtest-Pw-7341"
	alicePassword = "alice-vmtest-Pw-5128"
	aliceKeyFile  = "/home/alice/.ssh/authorized_keys"
	// markerRule is the netfilter-persistent rule that must stay loaded
	// beside vigie's table (iptables -S INPUT prints it so).
	markerRule = "-A INPUT -s 192.0.2.99/32 -j DROP"
	// pingNetns is forwarding at work: one namespace reaches the other
	// through the guest's root namespace.
	pingNetns = "sudo ip netns exec vmt-ns1 ping -c 3 -W 3 10.99.2.2"
	// fixCmd is harden.yaml's command: the areas that can lock someone out.
	fixCmd = "sudo " + vigieBin + " fix --yes --only ssh,firewall; echo exit=$?"
	// sshdCtx is the connection `sshd -T -C` evaluates Match blocks for.
	sshdCtx  = ",host=192.0.2.1,addr=192.0.2.1"
	vigieBin = "/usr/local/bin/vigie"
)

// TestNoLockoutDebian12 and TestNoLockoutDebian13: `vigie fix` never locks
// an administrator out and never weakens what it finds. See noLockout.
func TestNoLockoutDebian12(t *testing.T) { noLockout(t, bookworm) }

func TestNoLockoutDebian13(t *testing.T) { noLockout(t, trixie) }

// noLockout boots a guest whose user-data (noLockoutUserData) installs the
// static binary and sets up: ops, an administrator by a sudoers rule, with
// a password, an ED25519 and an RSA key; alice, in group sudo, with a
// password and an ED25519 key in a file sshd refuses (root:root 0600);
// sshd socket-activated on 2222 only; a routing host (ip_forward on, an
// iptables forward chain kept by netfilter-persistent, two network
// namespaces routed through the guest). Everything about logins is seen
// from outside, through the forwarded port.
//
//  1. Before any fix: everyone gets in the ways they have today.
//  2. `vigie fix`: alice could log in with her password only, so passwords
//     stay on, and the plan names her and her key file.
//  3. Her key file fixed, `vigie fix` turns passwords and RSA off: ops and
//     alice get in with ED25519, vigie's live probe sees port 2222,
//     forwarding still works, netfilter-persistent's rules stay, vigie's
//     table has no forward chain and is persisted by its own unit.
//  4. After a reboot, the same.
//  5. Every run undone, the confirm window (checkConfirmWindow): an
//     unconfirmed fix is undone whether its vigie was killed with -9 and
//     its session cut, Ctrl-C was pressed, the session dropped or the
//     host was reset; a confirmed one stays, and a service cycle during
//     the window leaves the host to the fix.
//  6. Every run undone, a stricter sshd (no root login, three ciphers,
//     publickey plus keyboard-interactive for sudo members): `vigie fix`
//     weakens none of it and refuses what would lock alice out, and the
//     same holds after a second reboot.
func noLockout(t *testing.T, suite string) {
	start := time.Now()
	keys := newLoginKeys(t)
	g := bootGuest(t, "nolockout-"+suiteNames[suite], "", binaryPlaceholder, artifact(t, "VIGIE_BINARY", "bin/vigie"),
		vmConfig{Suite: suite, UserData: noLockoutUserData(keys), SSHGuestPort: socketPort, AllowReboot: true})
	booted := time.Since(start)
	sh := func(cmd string) string {
		t.Helper()
		return g.sh(cmd, nil)
	}
	// try runs a command that may fail, and returns its output and status.
	try := func(cmd string) string {
		t.Helper()
		out, _ := guestSSH(g.port, g.key, 5*time.Minute, cmd+"; echo rc=$?", nil)
		return out
	}
	o := &outside{t: t, port: g.port, keys: keys, passwords: map[string]string{"ops": opsPassword, "alice": alicePassword}}
	harness := func(when string) bool {
		t.Helper()
		if out, err := guestSSH(g.port, g.key, 2*time.Minute, "true", nil); err != nil {
			t.Errorf("%s: the harness (%s with its ED25519 key) cannot log in on %d: %v\n%s", when, guestUser, socketPort, err, out)
			return false
		}
		return true
	}

	// 1. The setup is what the scenario needs.
	if out := try("sudo cloud-init status --long"); !strings.Contains(out, "status: done") || strings.Contains(out, "WARNING") {
		t.Fatalf("cloud-init:\n%s\n%s", out, sh("sudo tail -n 40 /var/log/cloud-init-output.log"))
	}
	t.Logf("guest: %s", strings.ReplaceAll(strings.TrimSpace(sh(". /etc/os-release && echo \"$PRETTY_NAME\"; ssh -V 2>&1; sudo systemctl --version | head -n 1")), "\n", "; "))
	t.Logf("socket activation at first boot:\n%s", socketState(g))
	if out := sh("sudo systemctl is-enabled ssh.service ssh.socket || true; sudo systemctl show -p Listen --value ssh.socket; sudo ss -tlnH"); !strings.Contains(out, "disabled\nenabled\n") ||
		!strings.Contains(out, ":2222 (Stream)") || strings.Contains(out, ":22 ") {
		t.Fatalf("sshd is not socket-activated on 2222 only (is-enabled ssh.service ssh.socket, Listen, ss -tln):\n%s", out)
	}
	routing := func(when string) {
		t.Helper()
		if out := try(pingNetns); !strings.Contains(out, "rc=0") {
			t.Errorf("%s: forwarding between the namespaces fails (%s):\n%s", when, pingNetns, tailLines(out, 8))
		}
		if out := sh("sudo iptables -S INPUT"); !strings.Contains(out, markerRule) {
			t.Errorf("%s: netfilter-persistent's marker rule %q is not loaded:\n%s", when, markerRule, out)
		}
	}
	if out := sh("cat /proc/sys/net/ipv4/ip_forward; sudo iptables -S FORWARD"); !strings.HasPrefix(out, "1\n") || !strings.Contains(out, "-P FORWARD DROP") {
		t.Fatalf("not a routing host (ip_forward, iptables -S FORWARD):\n%s", out)
	}
	routing("before any fix")
	if !o.expect("before any fix", []loginCase{
		{"ops", "password", true}, {"ops", "rsa", true}, {"ops", "ed25519", true},
		{"alice", "password", true}, {"alice", "ed25519", false},
	}) || t.Failed() {
		t.Fatalf("the guest is not set up as the scenario needs\n%s", try("sudo tail -n 30 /var/log/cloud-init-output.log"))
	}
	nftablesBefore, _ := guestSSH(g.port, g.key, time.Minute, "sudo systemctl is-enabled nftables.service", nil)
	nftablesBefore = strings.TrimSpace(nftablesBefore)
	setupDone := time.Since(start)

	// 2. alice logs in with her password only: passwords stay on.
	out2 := sh(fixCmd)
	t.Logf("vigie fix, alice's key file refused by sshd:\n%s", out2)
	if !strings.Contains(out2, "alice") || !strings.Contains(out2, aliceKeyFile) {
		t.Errorf("the plan does not name alice and her key file %s as the reason passwords stay on:\n%s", aliceKeyFile, tailLines(out2, 30))
	}
	if !harness("after the first vigie fix") {
		t.Fatalf("locked out: the scenario cannot go on\n%s", g.v.consoleTail(20))
	}
	for _, user := range []string{"", "alice"} {
		cmd := "sudo sshd -T"
		if user != "" {
			cmd += " -C user=" + user + sshdCtx
		}
		if got := sshdOptions(sh(cmd))["passwordauthentication"]; got != "yes" {
			t.Errorf("after vigie fix with alice's key refused, %s says passwordauthentication %q, want yes", cmd, got)
		}
	}
	o.expect("after the first vigie fix", []loginCase{{"alice", "password", true}, {"ops", "ed25519", true}})
	fix2Done := time.Since(start)

	// 3. Her key file fixed: ED25519 only.
	sh("sudo chown alice:alice " + aliceKeyFile)
	out3 := sh(fixCmd)
	t.Logf("vigie fix, alice's key file usable:\n%s", out3)
	if !strings.Contains(out3, "ssh: applied and verified") || !strings.Contains(out3, "exit=0") {
		t.Errorf("vigie fix with every administrator's ED25519 key usable: no \"ssh: applied and verified\" and exit 0:\n%s", tailLines(out3, 30))
	}
	// The firewall has nothing to keep from the first run: it may have
	// been applied then.
	if !strings.Contains(out2+out3, "firewall: applied and verified") {
		t.Errorf("neither vigie fix applied the firewall:\n%s\n---\n%s", tailLines(out2, 15), tailLines(out3, 15))
	}
	hardened := func(when string) {
		t.Helper()
		if !harness(when) {
			t.Fatalf("locked out: the scenario cannot go on\n%s", g.v.consoleTail(20))
		}
		o.expect(when, []loginCase{
			{"ops", "password", false}, {"ops", "rsa", false}, {"ops", "ed25519", true},
			{"alice", "password", false}, {"alice", "ed25519", true},
		})
		liveProbe(t, g, when)
		routing(when)
		if out := try("sudo nft list table inet vigie"); !strings.Contains(out, "rc=0") {
			t.Errorf("%s: no table inet vigie:\n%s", when, tailLines(out, 10))
		} else if strings.Contains(out, "hook forward") {
			t.Errorf("%s: on a routing host table inet vigie has a forward chain:\n%s", when, out)
		}
	}
	hardened("after vigie fix")
	firewallUnit(t, g, nftablesBefore)
	fix3Done := time.Since(start)

	// 4. A reboot: the same, netfilter-persistent's rules beside vigie's.
	g.reboot()
	t.Logf("socket activation after the reboot:\n%s", socketState(g))
	sh("sudo /usr/local/sbin/vmtest-netns")
	hardened("after the reboot")
	rebootDone := time.Since(start)

	// 5 and 6. Undo everything; the confirm window; then a stricter host
	// than Debian's.
	unit := strings.TrimSpace(try("sudo systemctl show -p FragmentPath --value vigie-firewall.service"))
	undoAll(t, g)
	if out := try("sudo systemctl is-enabled vigie-firewall.service"); strings.HasPrefix(out, "enabled") {
		t.Errorf("after vigie undo vigie-firewall.service is still enabled:\n%s", out)
	}
	if out := sh("sudo find /etc/systemd /run/systemd/system /lib/systemd/system /usr/lib/systemd/system -name 'vigie-firewall.service*'"); strings.TrimSpace(out) != "" {
		t.Errorf("after vigie undo vigie-firewall.service's files are still there:\n%s", out)
	}
	if path, _, _ := strings.Cut(unit, "\n"); strings.HasPrefix(path, "/") {
		if out := try("test -e " + path); strings.Contains(out, "rc=0") {
			t.Errorf("after vigie undo the unit file %s is still there", path)
		}
	}
	checkConfirmWindow(t, g) // leaves every run undone
	strictHost(t, g, o)
	t.Logf("timings: boot (cloud-init done) %s, setup checked %s, first fix %s, second fix and checks %s, reboot and checks %s, undo and stricter host %s, total %s",
		booted.Round(time.Second), (setupDone - booted).Round(time.Second), (fix2Done - setupDone).Round(time.Second), (fix3Done - fix2Done).Round(time.Second),
		(rebootDone - fix3Done).Round(time.Second), (time.Since(start) - rebootDone).Round(time.Second), time.Since(start).Round(time.Second))
}

// strictConf is a host stricter than Debian's defaults. The default
// user is left out of the Match: it is the harness's way in (a key, no
// password), and the test needs it to go on.
const strictConf = `# A host stricter than Debian's defaults, written by the VM test.
KbdInteractiveAuthentication yes
PermitRootLogin no
Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com
Match Group sudo User *,!` + guestUser + `
	AuthenticationMethods publickey,keyboard-interactive
`

// strictHost writes strictConf, restarts sshd and runs the fix: nothing it
// finds gets weaker, and alice, whose way in needs keyboard-interactive,
// keeps it.
func strictHost(t *testing.T, g *guest, o *outside) {
	t.Helper()
	g.sh("sudo tee /etc/ssh/sshd_config.d/50-strict.conf >/dev/null && sudo sshd -t", []byte(strictConf))
	// ssh.socket is Accept=no on both suites: the first connection
	// started ssh.service, which holds the listening socket systemd passed
	// it and reads its configuration only when it starts or on SIGHUP.
	// SIGHUP (systemctl reload) makes sshd re-execute itself, and Debian
	// 12's sshd then listens on its own port 22 and no longer on the
	// socket: a restart is what applies a change, systemd handing the
	// socket it keeps to the new sshd (KillMode=process: sessions stay).
	before := socketState(g)
	restart, err := guestSSH(g.port, g.key, 2*time.Minute, "sudo systemctl restart ssh.service; echo rc=$?", nil)
	t.Logf("systemctl restart ssh.service: %s %v\nbefore:\n%s\nafter:\n%s", strings.TrimSpace(restart), err, before, socketState(g))
	if out, err := guestSSH(g.port, g.key, 2*time.Minute, "true", nil); err != nil {
		t.Fatalf("after systemctl restart ssh.service the harness cannot log in on %d: %v\n%s\n%s", socketPort, err, out, g.v.consoleTail(20))
	}
	users := []string{"root", "alice", "ops"}
	sshdT := func() map[string]map[string]string {
		m := map[string]map[string]string{}
		for _, u := range users {
			m[u] = sshdOptions(g.sh("sudo sshd -T -C user="+u+sshdCtx, nil))
		}
		return m
	}
	show := func(m map[string]map[string]string) string {
		var b strings.Builder
		for _, u := range users {
			fmt.Fprintf(&b, "%s:", u)
			for _, k := range strictKeywords {
				fmt.Fprintf(&b, " %s=%s", k, m[u][k])
			}
			b.WriteString("\n")
		}
		return b.String()
	}
	before2 := sshdT()
	t.Logf("stricter host, sshd -T -C before the fix:\n%s", show(before2))
	if got := before2["alice"]["authenticationmethods"]; got != "publickey,keyboard-interactive" {
		t.Fatalf("50-strict.conf is not in force for alice: authenticationmethods %q", got)
	}
	ways := []loginCase{{"alice", "ed25519+password", true}, {"alice", "ed25519", false}, {"ops", "ed25519", true}}
	if !o.expect("stricter host, before the fix", ways) {
		t.Fatalf("the stricter host is not set up as the scenario needs")
	}

	out := g.sh(fixCmd, nil)
	t.Logf("vigie fix on the stricter host:\n%s", out)
	after := sshdT()
	t.Logf("stricter host, sshd -T -C after the fix:\n%s", show(after))
	for _, u := range []string{"root", "alice"} {
		if w := weakened(before2[u], after[u]); len(w) > 0 {
			t.Errorf("vigie fix weakened sshd for %s: %s", u, strings.Join(w, "; "))
		}
	}
	if !strings.Contains(out, "alice") {
		t.Errorf("the plan does not name alice, who needs keyboard-interactive, as the reason it keeps it on:\n%s", tailLines(out, 30))
	}
	if got := after["alice"]["kbdinteractiveauthentication"]; got != "yes" {
		t.Errorf("after vigie fix alice, who must answer keyboard-interactive after her key, gets kbdinteractiveauthentication %q", got)
	}
	if out, err := guestSSH(g.port, g.key, 2*time.Minute, "true", nil); err != nil {
		t.Errorf("stricter host, after the fix: the harness cannot log in: %v\n%s", err, out)
	}
	o.expect("stricter host, after the fix", ways)

	// And across a reboot: the files hold what was checked.
	g.reboot()
	rebooted := sshdT()
	t.Logf("stricter host, sshd -T -C after the reboot:\n%s", show(rebooted))
	for _, u := range []string{"root", "alice"} {
		if w := weakened(before2[u], rebooted[u]); len(w) > 0 {
			t.Errorf("after the reboot sshd is weaker for %s than before the fix: %s", u, strings.Join(w, "; "))
		}
	}
	if out, err := guestSSH(g.port, g.key, 2*time.Minute, "true", nil); err != nil {
		t.Errorf("stricter host, after the reboot: the harness cannot log in: %v\n%s", err, out)
	}
	o.expect("stricter host, after the reboot", ways)
}

// socketState is what systemd and the kernel say of sshd's socket
// activation: for the log.
func socketState(g *guest) string {
	out, _ := guestSSH(g.port, g.key, time.Minute,
		"sudo systemctl show -p Listen -p Accept -p ActiveState -p NAccepted -p NConnections ssh.socket; "+
			"sudo systemctl show -p ActiveState -p MainPID -p TriggeredBy -p ExecMainStartTimestamp ssh.service; "+
			"sudo systemctl is-enabled ssh.service ssh.socket; sudo ss -tlnpH", nil)
	return strings.TrimSpace(out)
}

// liveProbe runs `vigie check --only ssh`: its live probe must have
// connected to sshd on socketPort and passed.
func liveProbe(t *testing.T, g *guest, when string) {
	t.Helper()
	raw, _ := guestSSH(g.port, g.key, 3*time.Minute, "sudo "+vigieBin+" check --only ssh --json; echo \"exit=$?\" >&2", nil)
	js := raw
	if i := strings.LastIndex(js, "exit="); i >= 0 {
		js = js[:i]
	}
	var rep report
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Errorf("%s: vigie check --only ssh --json: %v\n%s", when, err, tailLines(raw, 20))
		return
	}
	f, ok := rep.finding("ssh.live-probe")
	var subjects []string
	for _, e := range f.Evidence {
		subjects = append(subjects, e.Subject)
	}
	named := false
	for _, s := range subjects {
		named = named || strings.HasSuffix(s, fmt.Sprintf(":%d", socketPort))
	}
	if !ok || f.Status != "pass" || !named {
		t.Errorf("%s: ssh.live-probe %s (%s), probed %v: want pass, on port %d", when, f.Status, f.Reason, uniq(subjects), socketPort)
	}
}

func uniq(s []string) []string {
	sort.Strings(s)
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// firewallUnit checks how the firewall is persisted: by vigie's own
// unit, which loads vigie's file only, not by nftables.service (whose
// /etc/nftables.conf starts with `flush ruleset`, which would drop
// netfilter-persistent's rules at boot).
func firewallUnit(t *testing.T, g *guest, nftablesBefore string) {
	t.Helper()
	out, _ := guestSSH(g.port, g.key, time.Minute, "sudo systemctl is-enabled vigie-firewall.service 2>&1; sudo systemctl cat vigie-firewall.service 2>&1", nil)
	if !strings.HasPrefix(out, "enabled\n") {
		t.Errorf("after vigie fix vigie-firewall.service is not enabled (systemctl is-enabled, cat):\n%s", tailLines(out, 20))
	} else if !strings.Contains(out, "/etc/vigie/vigie.nft") || strings.Contains(out, "nftables.conf") {
		t.Errorf("vigie-firewall.service does not load /etc/vigie/vigie.nft alone:\n%s", out)
	}
	if out, _ := guestSSH(g.port, g.key, time.Minute, "sudo grep -n 'flush ruleset' /etc/vigie/vigie.nft", nil); strings.TrimSpace(out) != "" {
		t.Errorf("/etc/vigie/vigie.nft flushes every table:\n%s", out)
	}
	if got, _ := guestSSH(g.port, g.key, time.Minute, "sudo systemctl is-enabled nftables.service", nil); strings.TrimSpace(got) != nftablesBefore {
		t.Errorf("vigie fix changed nftables.service from %q to %q", nftablesBefore, strings.TrimSpace(got))
	}
}

// undoAll runs `vigie undo RUN` for every applied run, newest first: the
// manifests under /var/lib/vigie/backups say which.
func undoAll(t *testing.T, g *guest) {
	t.Helper()
	raw := g.sh(`sudo sh -c 'for m in /var/lib/vigie/backups/*/manifest.json; do [ -e "$m" ] && cat "$m"; echo; done'`, nil)
	dec := json.NewDecoder(strings.NewReader(raw))
	var applied []string
	var all []string
	for {
		var m struct{ Run, Area, State string }
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("vigie's run manifests: %v\n%s", err, raw)
		}
		all = append(all, m.Run+" "+m.Area+" "+m.State)
		if m.State == "applied" {
			applied = append(applied, m.Run)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(applied)))
	t.Logf("vigie's runs: %s", strings.Join(all, "; "))
	if len(applied) == 0 {
		t.Errorf("no applied run to undo: %v", all)
	}
	for _, run := range applied {
		out := g.sh("sudo "+vigieBin+" undo "+run+"; echo exit=$?", nil)
		t.Logf("vigie undo %s: %s", run, strings.TrimSpace(out))
		if !strings.Contains(out, "undone") || !strings.Contains(out, "exit=0") {
			t.Errorf("vigie undo %s:\n%s", run, out)
		}
	}
}

// noLockoutUserData is the guest's user-data: the static binary fetched
// as binary.yaml does, the accounts, sshd on ssh.socket port 2222 only,
// and a host that routes.
func noLockoutUserData(k loginKeys) string {
	return fmt.Sprintf(`#cloud-config
# The passwords come from chpasswd, which unlocks the accounts users:
# locks (lock_passwd: false without a password here is a warning on
# cloud-init 25, and "degraded done").
users:
  - default
  # An administrator by a sudoers rule, in no admin group.
  - name: ops
    shell: /bin/bash
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    ssh_authorized_keys:
      - %q
      - %q
  # An administrator by group sudo; runcmd makes her key file one sshd
  # refuses.
  - name: alice
    shell: /bin/bash
    groups: [sudo]
    ssh_authorized_keys:
      - %q
chpasswd:
  expire: false
  users:
    - {name: ops, password: %q, type: text}
    - {name: alice, password: %q, type: text}
ssh_pwauth: true

write_files:
  - path: /etc/systemd/system/ssh.socket.d/10-vmtest-port.conf
    content: |
      [Socket]
      ListenStream=
      ListenStream=%[9]d
  - path: /etc/sysctl.d/60-vmtest-forward.conf
    content: |
      net.ipv4.ip_forward = 1
  - path: /usr/local/sbin/vmtest-netns
    permissions: "0755"
    content: |
      #!/bin/sh
      # Two network namespaces, vmt-ns1 (10.99.1.2) and vmt-ns2
      # (10.99.2.2), each behind a veth pair (vmt-1, vmt-2) and routed
      # through this namespace. Namespaces do not survive a reboot: run it
      # again then.
      set -eu
      for n in 1 2; do
        ip netns del vmt-ns$n 2>/dev/null || true
        ip netns add vmt-ns$n
        ip link add vmt-$n type veth peer name eth0 netns vmt-ns$n
        ip addr add 10.99.$n.1/24 dev vmt-$n
        ip link set vmt-$n up
        ip -n vmt-ns$n link set lo up
        ip -n vmt-ns$n addr add 10.99.$n.2/24 dev eth0
        ip -n vmt-ns$n link set eth0 up
        ip -n vmt-ns$n route add default via 10.99.$n.1
      done

runcmd:
  - |
    set -eux
    curl -fsSL --retry 5 --retry-connrefused --retry-delay 2 --connect-timeout 10 --max-time 300 \
      -o %[6]s.new '__VIGIE_BINARY_URL__'
    chmod 0755 %[6]s.new
    mv %[6]s.new %[6]s
    chown root:root %[7]s
    chmod 0600 %[7]s
    sysctl -p /etc/sysctl.d/60-vmtest-forward.conf
    iptables -P FORWARD DROP
    iptables -A FORWARD -i vmt-1 -o vmt-2 -j ACCEPT
    iptables -A FORWARD -i vmt-2 -o vmt-1 -j ACCEPT
    iptables %[8]s
    netfilter-persistent save
    /usr/local/sbin/vmtest-netns
    systemctl daemon-reload
    systemctl disable --now ssh.service
    systemctl enable --now ssh.socket
    echo "vmtest: sshd socket-activated on %[9]d" > /dev/console
`, authorizedLine(k.OpsED25519, "ops-ed25519"), authorizedLine(k.OpsRSA, "ops-rsa"), authorizedLine(k.AliceED25519, "alice-ed25519"),
		opsPassword, alicePassword, vigieBin, aliceKeyFile, markerRule, socketPort)
}
