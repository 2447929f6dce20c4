package remediations

import (
	"context"
	"os"
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
