package spool

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
)

const lockHelperEnv = "VIGIE_TEST_SPOOL_LOCK_DIR"

// TestLockHelper is the child process of TestWithLockAcrossProcesses: it
// holds the delivery lock of the spool named in lockHelperEnv until its
// standard input closes.
func TestLockHelper(t *testing.T) {
	dir := os.Getenv(lockHelperEnv)
	if dir == "" {
		t.Skip("child process of TestWithLockAcrossProcesses")
	}
	s, err := Open(dir, 10, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	err = s.WithLock(context.Background(), func() error {
		os.Stdout.WriteString("locked\n")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestWithLockAcrossProcesses has a real second process hold the delivery
// lock: this process must wait for it, give up when its context ends, and
// still be able to put reports meanwhile.
func TestWithLockAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelper$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "locked\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}

	s := open(t, dir, 10, 1<<20)
	put(t, s, "queued-while-delivering")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	ran := false
	err = s.WithLock(ctx, func() error { ran = true; return nil })
	if !errors.Is(err, context.DeadlineExceeded) || ran {
		t.Fatalf("WithLock while another process holds it: ran=%v err=%v", ran, err)
	}

	stdin.Close() // the helper's pass ends
	start := time.Now()
	err = s.WithLock(context.Background(), func() error { ran = true; return nil })
	if err != nil || !ran {
		t.Fatalf("WithLock after release: ran=%v err=%v", ran, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("waited %s", d)
	}
}

// TestWithLockExcludesGoroutines checks that two passes of one process do
// not overlap either.
func TestWithLockExcludesGoroutines(t *testing.T) {
	dir := t.TempDir()
	a, b := open(t, dir, 10, 1<<20), open(t, dir, 10, 1<<20)
	inside := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error)
	go func() {
		done <- a.WithLock(context.Background(), func() error {
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := b.WithLock(ctx, func() error { return nil }); err == nil {
		t.Error("two passes held the lock at once")
	}
	if err := a.WithLock(ctx, func() error { return nil }); err == nil {
		t.Error("the lock is reentrant for the same Spool")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := b.WithLock(context.Background(), func() error { return errors.New("fn failed") }); err == nil || err.Error() != "fn failed" {
		t.Errorf("WithLock returned %v, want fn's error", err)
	}
}
