package agent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestConfirmWindow(t *testing.T) {
	cfg := Defaults()
	cfg.StateDir = t.TempDir()
	var out bytes.Buffer

	yes := func() <-chan bool { ch := make(chan bool, 1); ch <- true; return ch }
	if !confirmed(context.Background(), cfg, &out, "run-1", FixOptions{Window: time.Minute, Answer: yes}) {
		t.Error("a yes at the prompt was not taken")
	}
	start := time.Now()
	if confirmed(context.Background(), cfg, &out, "run-2", FixOptions{Window: 300 * time.Millisecond}) {
		t.Error("silence kept the change")
	}
	if time.Since(start) > 5*time.Second {
		t.Error("the window did not close")
	}
	// A second session confirms while the first waits.
	done := make(chan bool, 1)
	go func() {
		done <- confirmed(context.Background(), cfg, &out, "run-3", FixOptions{Window: 10 * time.Second})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(cfg.StateDir, "pending-confirm")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no pending confirmation was announced")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := ConfirmPending(cfg, &out); err != nil {
		t.Fatal(err)
	}
	if !<-done {
		t.Error("confirmation from another session not taken")
	}
	if err := ConfirmPending(cfg, &out); err == nil {
		t.Error("confirmed with nothing pending")
	}
}
