package remediations

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunLetsATransactionFinish: a package manager whose context ends
// half way is not killed: Run waits for it, its work is complete, and the
// error says the context ended and the command was left to finish.
func TestRunLetsATransactionFinish(t *testing.T) {
	dir := t.TempDir()
	done := filepath.Join(dir, "transaction-complete")
	script := "#!/bin/sh\nsleep 1\necho finished > " + done + "\n"
	if err := os.WriteFile(filepath.Join(dir, "dpkg"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Run(ctx, nil, "dpkg", "--configure", "-a")
	if err == nil || !strings.Contains(err.Error(), "dpkg was left to finish its transaction, not killed") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("returned after %s, before the transaction ended", d)
	}
	if b, err := os.ReadFile(done); err != nil || strings.TrimSpace(string(b)) != "finished" {
		t.Errorf("the transaction did not complete: %q %v", b, err)
	}
}

// TestRunOutlivesItsCaller: a package manager whose vigie is killed
// mid-transaction (systemd's stop timeout ends in SIGKILL) finishes its
// work, although it goes on writing its output: no pipe is left without
// a reader to kill it with SIGPIPE. The caller is this test binary run
// again as a child, killed with -9 once the command has started.
func TestRunOutlivesItsCaller(t *testing.T) {
	if dir := os.Getenv("VIGIE_TEST_RUN_CALLER"); dir != "" {
		t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
		_, _ = Run(context.Background(), nil, "dpkg", "--configure", "-a")
		return
	}
	dir := t.TempDir()
	started, done := filepath.Join(dir, "started"), filepath.Join(dir, "transaction-complete")
	script := "#!/bin/sh\n: > " + started + "\nsleep 1\ni=0\nwhile [ $i -lt 2000 ]; do echo \"Setting up package-$i ...\"; i=$((i+1)); done\necho finished > " + done + "\n"
	if err := os.WriteFile(filepath.Join(dir, "dpkg"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	caller := exec.Command(os.Args[0], "-test.run=^TestRunOutlivesItsCaller$")
	caller.Env = append(os.Environ(), "VIGIE_TEST_RUN_CALLER="+dir)
	if err := caller.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(started); err == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = caller.Process.Kill()
			t.Fatal("the command did not start")
		}
	}
	if err := caller.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = caller.Wait()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(done); err == nil && strings.TrimSpace(string(b)) == "finished" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the transaction did not complete once its caller was killed")
		}
	}
}

// TestRunKeepsTheEnd: of a command that prints more than Run keeps, the
// end is kept, where a package manager says how it ended.
func TestRunKeepsTheEnd(t *testing.T) {
	out, err := Run(context.Background(), nil, "sh", "-c", `head -c 17000000 /dev/zero | tr '\0' x; echo; echo "E: the last word"; exit 100`)
	var ce *CommandError
	if !errors.As(err, &ce) || !strings.Contains(ce.Message, "E: the last word") {
		t.Fatalf("err = %v", err)
	}
	if len(out) != maxOutput || !strings.HasSuffix(string(out), "E: the last word\n") {
		t.Errorf("kept %d bytes ending %q", len(out), out[max(len(out)-20, 0):])
	}
}

// TestRunReopenedStderr: a script that writes to /dev/stderr by name
// (which reopens and truncates the output file) loses what came before,
// but what follows is kept whole and no NUL reaches the error message.
func TestRunReopenedStderr(t *testing.T) {
	_, err := Run(context.Background(), nil, "sh", "-c", `echo first; echo warn >/dev/stderr; echo "E: the real error"; exit 100`)
	var ce *CommandError
	if !errors.As(err, &ce) || !strings.Contains(ce.Message, "E: the real error") || strings.Contains(ce.Message, "\x00") {
		t.Fatalf("err = %#v", err)
	}
}
