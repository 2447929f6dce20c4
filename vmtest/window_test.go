//go:build vmtest

package vmtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// windowConfig is the configuration the confirm-window scenario runs
// vigie with: a short window, so the test waits less. The cases that
// do more while the change waits (a whole service cycle, a reset and a
// boot) use a longer one: a loaded guest under TCG takes seconds per
// command.
const (
	windowConfig     = "/etc/vigie/window.yaml"
	windowSecs       = 30
	windowLongConfig = "/etc/vigie/window-long.yaml"
	windowLongSecs   = 120
)

// ptySession is `ssh -tt` to the guest: the operator's interactive session,
// which the test can cut as a dropped connection would.
type ptySession struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser // what the operator types
	mu    sync.Mutex
	out   bytes.Buffer
}

func (s *ptySession) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(p)
}

func (s *ptySession) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// startPTY runs command in the guest on a terminal of its own.
func startPTY(t *testing.T, g *guest, command string) *ptySession {
	t.Helper()
	args := append([]string{"-tt", "-F", "/dev/null", "-i", g.key.Private, "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR",
		"-p", strconv.Itoa(g.port)}, noHostCheck...)
	s := &ptySession{}
	s.cmd = exec.CommandContext(context.Background(), "ssh", append(args, guestUser+"@127.0.0.1", command)...)
	s.cmd.Stdout, s.cmd.Stderr = s, s
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.cmd.Process.Kill(); _ = s.cmd.Wait() })
	return s
}

// waitFor waits until the session printed want.
func (s *ptySession) waitFor(t *testing.T, want string, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); !strings.Contains(s.text(), want); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the session did not print %q within %s:\n%s", want, within, tailLines(s.text(), 20))
		}
	}
}

// checkConfirmWindow: `sudo vigie fix --only ssh` from the operator's SSH
// session (sudo drops SSH_CONNECTION) waits for a confirmation, five times:
//  1. the session is cut right after the prompt and vigie killed with -9,
//     so nothing of vigie's own process is left to undo the change: the
//     revert armed before the change, a transient systemd timer, undoes
//     it at the end of the window;
//  2. a service cycle that remediates ssh runs while the fix waits and
//     leaves the host to it; the change is confirmed from another session
//     with `vigie fix --confirm`: kept, its timer and boot job gone;
//  3. Ctrl-C at the prompt, and 4. the session cut with vigie alive
//     (SIGHUP through sudo): vigie undoes the change itself, at once;
//  5. a hard reset at the prompt: the transient timer is gone with /run,
//     and the boot job left beside it undoes the change at boot.
//
// The host is left with every run undone.
func checkConfirmWindow(t *testing.T, g *guest) {
	t.Helper()
	start := time.Now()
	for cfg, secs := range map[string]int{windowConfig: windowSecs, windowLongConfig: windowLongSecs} {
		g.sh(fmt.Sprintf("printf 'fix:\\n  confirm_window: %ds\\n' | sudo tee %s >/dev/null", secs, cfg), nil)
	}
	// While a revert restarts a socket-activated ssh.service, its
	// RuntimeDirectory /run/sshd is gone for a moment and sshd -T fails:
	// ask again.
	sshdPasswords := func() string {
		t.Helper()
		for i := 0; ; i++ {
			out, err := guestSSH(g.port, g.key, time.Minute, "sudo sshd -T", nil)
			if err == nil {
				return sshdOptions(out)["passwordauthentication"]
			}
			if i == 10 {
				t.Fatalf("sudo sshd -T: %v\n%s", err, out)
			}
			time.Sleep(time.Second)
		}
	}
	if got := sshdPasswords(); got != "yes" {
		t.Fatalf("before the confirm-window fix, sshd -T says passwordauthentication %q: the fix would change nothing", got)
	}
	fix := "sudo " + vigieBin + " --config " + windowConfig + " fix --yes --only ssh"
	fixLong := "sudo " + vigieBin + " --config " + windowLongConfig + " fix --yes --only ssh"
	// killFix kills the waiting vigie fix with -9, and only it: the
	// armed revert, a vigie too, may already wait for the lock. ("[ ]" keeps
	// the pattern from matching the shell that runs pkill.)
	killFix := func() { g.sh("sudo pkill -KILL -f -- '[ ]fix --yes --only ssh' || true", nil) }

	// 1. Unconfirmed, the session cut and vigie killed: the timer undoes it.
	s := startPTY(t, g, fix)
	s.waitFor(t, "Keep this change?", 3*time.Minute)
	prompted := time.Now()
	killFix()
	_ = s.cmd.Process.Kill() // the operator's connection drops
	killed := time.Now()
	if got := sshdPasswords(); got != "no" && time.Since(prompted) < (windowSecs-5)*time.Second {
		t.Fatalf("once vigie was killed in its window sshd -T says passwordauthentication %q, want the change in force", got)
	}
	timers := g.read("sudo systemctl list-timers --all --no-legend 'vigie-revert-*'")
	if !strings.Contains(timers, "vigie-revert-") {
		t.Fatalf("no revert timer armed while the change waits for its confirmation:\n%s\n%s", timers, s.text())
	}
	t.Logf("confirm window: prompt after %s; vigie killed with -9 %s later and the session cut; timers:\n%s", prompted.Sub(start).Round(time.Second),
		killed.Sub(prompted).Round(time.Second), strings.TrimSpace(timers))
	for deadline := killed.Add(windowSecs*time.Second + 2*time.Minute); sshdPasswords() != "yes"; time.Sleep(3 * time.Second) {
		if time.Now().After(deadline) {
			t.Fatalf("the unconfirmed change is still in force %s after vigie was killed:\n%s", time.Since(killed).Round(time.Second),
				g.read("sudo journalctl -u 'vigie-revert-*' --no-pager | tail -n 20"))
		}
	}
	reverted := time.Since(prompted)
	t.Logf("confirm window: the armed revert undid the change %s after the prompt, %s after vigie was killed (window %ds):\n%s", reverted.Round(time.Second),
		time.Since(killed).Round(time.Second), windowSecs, strings.TrimSpace(g.read("sudo journalctl -u 'vigie-revert-*' -o cat --no-pager | tail -n 5")))
	if reverted < (windowSecs-2)*time.Second {
		t.Errorf("the change was undone %s after the prompt, before its %ds window was over", reverted.Round(time.Second), windowSecs)
	}
	if _, err := guestSSH(g.port, g.key, time.Minute, "true", nil); err != nil {
		t.Fatalf("after the armed revert the harness cannot log in: %v", err)
	}
	noRevertLeft(t, g, "after the armed revert")

	// 2. A service cycle that remediates ssh, while the fix waits: it
	// leaves the host to the fix. Then confirmed from another session:
	// kept (what the armed revert does once it fires: it keeps it), the
	// timer and the boot job gone.
	s = startPTY(t, g, fixLong)
	s.waitFor(t, "Keep this change?", 3*time.Minute)
	if jobs := g.sh("ls /etc/systemd/system/ /etc/systemd/system/multi-user.target.wants/ | grep -c '^vigie-window-' || true", nil); strings.TrimSpace(jobs) != "2" {
		t.Errorf("while the change waits, want its boot job and its link in /etc/systemd/system, found %s", jobs)
	}
	g.sh(fmt.Sprintf("printf 'fix:\\n  confirm_window: %ds\\nrun:\\n  remediate: [ssh]\\n' | sudo tee %s >/dev/null", windowSecs, cycleConfig), nil)
	cycle := g.sh("sudo sh -c '"+vigieBin+" --config "+cycleConfig+" run >/tmp/vigie-cycle.log 2>&1 & pid=$!; "+
		"for i in $(seq 240); do grep -q \"^report \" /tmp/vigie-cycle.log && break; sleep 1; done; kill -TERM $pid; wait $pid; cat /tmp/vigie-cycle.log'", nil)
	if !strings.Contains(cycle, "remediation skipped this cycle: ") || !strings.Contains(cycle, "another vigie fix, undo or service cycle is changing this host") || !strings.Contains(cycle, "report ") {
		t.Errorf("a service cycle during the fix's window: want its remediation skipped, naming the fix, and its report:\n%s", tailLines(cycle, 20))
	}
	if got := sshdPasswords(); got != "no" || strings.Contains(s.text(), "undone") {
		t.Errorf("after the service cycle the waiting change is not as it was: passwordauthentication %q\n%s", got, tailLines(s.text(), 10))
	}
	if out := g.sh("sudo "+vigieBin+" --config "+windowLongConfig+" fix --confirm; echo exit=$?", nil); !strings.Contains(out, "confirmed") || !strings.Contains(out, "exit=0") {
		t.Fatalf("vigie fix --confirm from another session:\n%s", out)
	}
	s.waitFor(t, "confirmed from another session", time.Minute)
	noRevertLeft(t, g, "after the confirmation")
	run := runOf(s.text())
	if out := g.sh("sudo "+vigieBin+" --config "+windowLongConfig+" undo --unconfirmed "+run+"; echo exit=$?", nil); !strings.Contains(out, "was confirmed: kept") || sshdPasswords() != "no" {
		t.Errorf("the revert of a confirmed run, run anyway: want it kept:\n%s", out)
	}
	if out := g.sh("sudo "+vigieBin+" --config "+windowLongConfig+" undo; echo exit=$?", nil); !strings.Contains(out, "exit=0") || sshdPasswords() != "yes" {
		t.Fatalf("vigie undo of the confirmed run:\n%s", out)
	}

	// 3. Ctrl-C at the prompt: undone at once, by vigie itself.
	s = startPTY(t, g, fixLong)
	s.waitFor(t, "Keep this change?", 3*time.Minute)
	if _, err := s.stdin.Write([]byte{3}); err != nil {
		t.Fatal(err)
	}
	pressed := time.Now()
	s.waitFor(t, "interrupted before it was confirmed: undone.", time.Minute)
	if got := sshdPasswords(); got != "yes" {
		t.Errorf("Ctrl-C during the window: sshd -T says passwordauthentication %q, want the change undone", got)
	}
	t.Logf("confirm window: Ctrl-C, undone %s later", time.Since(pressed).Round(time.Second))
	noRevertLeft(t, g, "after Ctrl-C")

	// 4. The session drops (SIGHUP through sudo), vigie alive: it undoes
	// the change itself, well before the end of the window.
	s = startPTY(t, g, fixLong)
	s.waitFor(t, "Keep this change?", 3*time.Minute)
	_ = s.cmd.Process.Kill()
	cut := time.Now()
	for sshdPasswords() != "yes" {
		if time.Since(cut) > (windowLongSecs-10)*time.Second {
			t.Fatalf("the session dropped %s ago and the change is still in force: SIGHUP did not undo it", time.Since(cut).Round(time.Second))
		}
		time.Sleep(time.Second)
	}
	t.Logf("confirm window: session cut (SIGHUP), undone within %s", time.Since(cut).Round(time.Second))
	time.Sleep(3 * time.Second) // the undone run's timer is stopped after the undo
	noRevertLeft(t, g, "after the session dropped")

	// 5. A hard reset inside the window, as from the provider's console:
	// the transient timer is gone with /run; the boot job undoes the
	// change once the host is up again.
	s = startPTY(t, g, fixLong)
	s.waitFor(t, "Keep this change?", 3*time.Minute)
	reset := time.Now()
	g.hardReset()
	for deadline := time.Now().Add(windowLongSecs*time.Second + 3*time.Minute); sshdPasswords() != "yes"; time.Sleep(3 * time.Second) {
		if time.Now().After(deadline) {
			t.Fatalf("after a reset inside the window the unconfirmed change is still in force:\n%s",
				g.read("sudo journalctl -b -u 'vigie-window-*' --no-pager | tail -n 20; ls -l /etc/systemd/system/"))
		}
	}
	// The files are back before the boot job has reactivated sshd and
	// removed itself: wait for it to end before looking at what it left.
	for deadline := time.Now().Add(2 * time.Minute); strings.TrimSpace(g.read("sudo systemctl list-units --no-legend --state=activating,active,deactivating 'vigie-window-*'")) != ""; time.Sleep(2 * time.Second) {
		if time.Now().After(deadline) {
			t.Fatalf("the boot job still runs 2 min after the change was undone:\n%s", g.read("sudo journalctl -b -u 'vigie-window-*' --no-pager | tail -n 20"))
		}
	}
	t.Logf("confirm window: reset inside the window, undone at boot %s after the reset:\n%s", time.Since(reset).Round(time.Second),
		strings.TrimSpace(g.read("sudo journalctl -b -u 'vigie-window-*' -o cat --no-pager | tail -n 5")))
	if _, err := guestSSH(g.port, g.key, time.Minute, "true", nil); err != nil {
		t.Fatalf("after the reset and the undo at boot the harness cannot log in: %v", err)
	}
	noRevertLeft(t, g, "after the undo at boot")
	t.Logf("timings: confirm window scenario %s", time.Since(start).Round(time.Second))
}

// runOf finds the run id in a fix's output: "(run ID; ".
func runOf(out string) string {
	_, rest, ok := strings.Cut(out, "(run ")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, ";")
	return strings.TrimSpace(id)
}

// cycleConfig is the configuration of the service cycle that runs during
// a fix's window: it remediates ssh.
const cycleConfig = "/etc/vigie/cycle.yaml"

// noRevertLeft: once a run is confirmed or undone, neither its transient
// timer nor its boot job is left.
func noRevertLeft(t *testing.T, g *guest, when string) {
	t.Helper()
	if timers := g.read("sudo systemctl list-timers --all --no-legend 'vigie-revert-*'"); strings.Contains(timers, "vigie-revert-") {
		t.Errorf("%s: a revert timer is left:\n%s", when, timers)
	}
	if jobs := g.read("sudo find /etc/systemd/system -name 'vigie-window-*'"); strings.TrimSpace(jobs) != "" {
		t.Errorf("%s: a boot job is left:\n%s", when, jobs)
	}
}
