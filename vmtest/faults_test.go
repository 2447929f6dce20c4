//go:build vmtest

package vmtest

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// faultsAll is the variable `make vmtest-faults` sets: the whole matrix,
// on both suites, and the whole disks matrix of TestFixPatchesDisks.
// Without it CI runs a representative part of each.
const faultsAll = "VIGIE_VMTEST_FAULTS"

// fault is one way a fix is interrupted: vigie kills itself with SIGKILL
// (VIGIE_FAULT_KILL_AT) once the named step of the area's run is done, as
// a crash or an OOM kill would stop it there; with reboot it resets the
// machine there instead (VIGIE_FAULT_HOW=reset: the disks synced, then
// sysrq b), as a power cut would, and the boot job must put the run back.
type fault struct {
	area, at string
	reboot   bool
	ci       bool // in the representative part CI runs
}

var faults = []fault{
	{area: "ssh", at: "backup"},
	{area: "ssh", at: "write /etc/ssh/sshd_config.d/00-vigie.conf", ci: true},
	{area: "ssh", at: "validate"},
	{area: "ssh", at: "activate", ci: true},
	{area: "ssh", at: "verify", ci: true},
	{area: "firewall", at: "backup"},
	{area: "firewall", at: "write /etc/vigie/vigie.nft", ci: true},
	{area: "firewall", at: "write /etc/systemd/system/vigie-firewall.service"},
	{area: "firewall", at: "validate"},
	{area: "firewall", at: "enable vigie-firewall.service", ci: true},
	{area: "firewall", at: "activate", ci: true},
	{area: "firewall", at: "verify"},
	{area: "firewall", at: "activate", reboot: true, ci: true},
	{area: "ssh", at: "activate", reboot: true},
}

// TestFaultsDebian12 runs the whole matrix on a Debian 12 guest of its
// own, under `make vmtest-faults`; on Debian 13 the matrix shares
// TestDebian13's boot (its representative part in CI, all of it under
// `make vmtest-faults`).
func TestFaultsDebian12(t *testing.T) {
	if os.Getenv(faultsAll) == "" {
		t.Skip("the whole fault matrix runs under `make vmtest-faults`; CI runs its representative part in TestDebian13's guest")
	}
	g := bootGuest(t, "faults-debian12", "packaging/cloud-init/binary.yaml", binaryPlaceholder, artifact(t, "VIGIE_BINARY", "bin/vigie"),
		vmConfig{Suite: bookworm, AllowReboot: true})
	faultMatrix(t, g, "/usr/local/bin/vigie", true)
}

// faultMatrix interrupts `vigie fix` in the guest at each fault in turn
// (all of them, or the representative part CI runs). The guest starts
// with nothing fixed. After every fault the harness's ED25519 key logs in
// from outside, and once the revert the fix armed before its run has put
// the interrupted run back by itself (at once, or at boot after a
// reboot), the host is byte for byte as it was: sshd -T, the whole
// nftables ruleset, the unit states, and every file and link under
// /etc/ssh, /etc/vigie and /etc/systemd/system.
// Then the faults that are not a crash: two fixes at once (one refuses,
// naming the other; the other applies), and an operator's sshd
// configuration that sshd -t accepts but sshd cannot start on (the fix
// refuses it before any reload; sshd keeps running).
func faultMatrix(t *testing.T, g *guest, vigie string, all bool) {
	t.Helper()
	start := time.Now()
	state := func() string {
		return g.sh(`sudo sh -c 'sshd -T | sha256sum; nft list ruleset | sha256sum; `+
			`systemctl is-enabled vigie-firewall.service nftables.service ssh.service 2>&1; systemctl is-active ssh.service; `+
			`find /etc/ssh /etc/vigie /etc/systemd/system -xdev -type l -printf "%p -> %l\n" 2>/dev/null | sort; `+
			`find /etc/ssh /etc/vigie /etc/systemd/system -xdev -type f -exec sha256sum {} + 2>/dev/null | sort'`, nil)
	}
	before := state()
	injected, checked := 0, 0
	for _, f := range faults {
		if !all && !f.ci {
			continue
		}
		name := f.area + " killed after " + f.at
		if f.reboot {
			name += ", then a reboot"
		}
		if !g.injectFault(name, fmt.Sprintf("%s fix --yes --only %s", vigie, f.area), f) {
			continue
		}
		injected++
		checked += g.restoredAfter(name, before, state)
		if f.reboot {
			g.revertedAtBoot(name)
		}
	}

	// Two fixes at once: one lock.
	out := g.sh("sudo sh -c '"+vigie+" fix --yes --only ssh >/tmp/fix-a 2>&1 & "+vigie+" fix --yes --only ssh >/tmp/fix-b 2>&1; wait; cat /tmp/fix-a; echo ----; cat /tmp/fix-b'", nil)
	if !strings.Contains(out, "another vigie fix, undo or service cycle is changing this host") || strings.Count(out, "ssh: applied and verified") != 1 {
		t.Errorf("two fixes at once: want one refused by the lock and one applied:\n%s", out)
	}
	injected++
	g.mustLogIn("two fixes at once")
	g.sh("sudo "+vigie+" undo", nil)
	if got := state(); got != before {
		t.Errorf("two fixes at once, then vigie undo: the host is not as it was:\n%s", diffLines(before, got))
	}
	checked += 2

	// sshd -t accepts it, sshd cannot start on it: no reload happens.
	g.sh("printf 'ListenAddress 192.0.2.55\\n' | sudo tee /etc/ssh/sshd_config.d/60-latent.conf >/dev/null && sudo sshd -t", nil)
	latent := state()
	out = g.sh("sudo "+vigie+" fix --yes --only ssh; echo exit=$?", nil)
	if !strings.Contains(out, "sshd could not start on it") || !strings.Contains(out, "exit=1") {
		t.Errorf("a configuration sshd cannot start on: the fix did not refuse it:\n%s", tailLines(out, 15))
	}
	injected++
	g.mustLogIn("an sshd configuration that does not start")
	if got := state(); got != latent {
		t.Errorf("after the refused fix the host is not as it was:\n%s", diffLines(latent, got))
	}
	checked += 2
	g.sh("sudo rm /etc/ssh/sshd_config.d/60-latent.conf", nil)
	t.Logf("faults: %d injected, %d states checked, 0 lockouts and 0 half-applied states unless reported above; %s", injected, checked, time.Since(start).Round(time.Second))
}

// injectFault runs fix (a command line) in the guest, interrupted at
// f.at: vigie kills itself there, or for f.reboot resets the machine
// there (disks synced, then sysrq b) as a power cut would, and the guest
// is waited for until SSH answers again. It says whether the fault
// happened.
func (g *guest) injectFault(name, fix string, f fault) bool {
	g.t.Helper()
	how := ""
	if f.reboot {
		how = "VIGIE_FAULT_HOW=reset "
	}
	start := time.Now()
	out, err := guestSSH(g.port, g.key, 5*time.Minute, fmt.Sprintf("sudo env %sVIGIE_FAULT_KILL_AT=%q %s; echo exit=$?", how, f.at, fix), nil)
	switch {
	case f.reboot && err != nil && !strings.Contains(out, "exit="):
		time.Sleep(5 * time.Second)
		g.v.waitSSH(g.t, g.key, sshUpWithin)
		g.t.Logf("timings: %s: reset, ssh up again %s", name, time.Since(start).Round(time.Second))
		return true
	case !f.reboot && strings.Contains(out, "exit=137"):
		return true
	}
	g.t.Errorf("%s: vigie was not stopped there (no such step?): %v\n%s", name, err, tailLines(out, 15))
	return false
}

// revertedAtBoot: after a reset mid-run, it was the boot job that put the
// run back, the transient revert having died with /run.
func (g *guest) revertedAtBoot(name string) {
	g.t.Helper()
	if out := g.read("sudo journalctl -b -u 'vigie-window-*' -o cat --no-pager"); !strings.Contains(out, "interrupted before it finished") {
		g.t.Errorf("%s: the boot job did not put the run back at boot:\n%s", name, out)
	}
}

// restoredAfter follows a fault: the harness's ED25519 key logs in; the
// revert the fix armed before its run (a transient unit that waits for
// the lock the killed vigie held, or after a reboot its boot job) puts
// the interrupted run back by itself, and state() is before once more,
// with nothing run by hand; no run is left marked applying, and the key
// logs in again. It returns the number of states checked.
func (g *guest) restoredAfter(name, before string, state func() string) int {
	g.t.Helper()
	g.mustLogIn(name)
	start := time.Now()
	for deadline := start.Add(3 * time.Minute); ; time.Sleep(2 * time.Second) {
		left := g.read(`sudo sh -c 'systemctl list-units --all --no-legend --state=active,activating,deactivating "vigie-revert-*" "vigie-window-*"; ` +
			`find /etc/systemd/system -name "vigie-window-*"'`)
		if strings.TrimSpace(left) == "" {
			break
		}
		if time.Now().After(deadline) {
			g.t.Errorf("%s: the armed revert has not ended %s after the fault:\n%s", name, time.Since(start).Round(time.Second), left)
			break
		}
	}
	if got := state(); got != before {
		g.t.Errorf("%s: once the armed revert ended the host is not as it was:\n%s\n%s", name, diffLines(before, got),
			g.read("sudo journalctl -u 'vigie-revert-*' -u 'vigie-window-*' -o cat --no-pager | tail -n 20"))
	}
	// No run is left half applied for a later vigie to find.
	if left := g.read(`sudo sh -c 'grep -l "\"state\": \"applying\"" /var/lib/vigie/backups/*/manifest.json || true'`); strings.TrimSpace(left) != "" {
		g.t.Errorf("%s: a run is still marked applying once its revert ended:\n%s", name, left)
	}
	g.mustLogIn(name + ", once reverted")
	return 1
}

// diffLines shows the lines of b that are not in a, and the reverse.
func diffLines(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if !mb[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ma[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
