// Package scalewaytest reads the metadata fixtures of host/scaleway's
// testdata for the tests of the areas that judge what the metadata says.
package scalewaytest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/vigie-agent/vigie/host/scaleway"
)

// Dir is host/scaleway/testdata, wherever the test runs from.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

// Fixture reads a metadata fixture of Dir: its body, and what Parse makes
// of it.
func Fixture(t testing.TB, name string) ([]byte, *scaleway.Metadata) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(), name))
	if err != nil {
		t.Fatal(err)
	}
	md, err := scaleway.Parse(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b, md
}
