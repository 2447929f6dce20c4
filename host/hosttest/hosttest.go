// Package hosttest builds the inspected systems the tests of the areas run
// on: a tree of files written for the test, or a captured tree under
// testdata/.
package hosttest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vigie-agent/vigie/host"
)

// Tree writes files (path -> content, 0644, directories 0755) under a new
// temporary root and returns it.
func Tree(t testing.TB, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// Env is an inspected system holding files and nothing else; its proc
// and sys are the tree's own proc/ and sys/.
func Env(t testing.TB, files map[string]string) *host.Env {
	t.Helper()
	root := Tree(t, files)
	return &host.Env{Root: root, Proc: filepath.Join(root, "proc"), Sys: filepath.Join(root, "sys")}
}

// Fixture is the captured tree testdata/NAME, with its proc and sys.
func Fixture(t testing.TB, name string) *host.Env {
	t.Helper()
	root := filepath.Join("testdata", name)
	if _, err := os.Stat(root); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return &host.Env{Root: root, Proc: filepath.Join(root, "proc"), Sys: filepath.Join(root, "sys")}
}
