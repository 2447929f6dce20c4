// Package fuzzseed seeds fuzz targets with the captured files the tests
// already use, so fuzzing starts from real input.
package fuzzseed

import (
	"os"
	"path/filepath"
	"testing"
)

// Files adds every file matching the patterns to the corpus; a target
// without a single seed fails, as a moved testdata directory would
// otherwise silently leave it fuzzing from nothing.
func Files(f *testing.F, patterns ...string) {
	f.Helper()
	n := 0
	for _, p := range patterns {
		files, _ := filepath.Glob(p)
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
				n++
			}
		}
	}
	if n == 0 {
		f.Fatalf("no seeds in %v", patterns)
	}
}
