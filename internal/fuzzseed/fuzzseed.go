// Package fuzzseed seeds fuzz targets with the captured files the tests
// already use, so fuzzing starts from real input.
package fuzzseed

import (
	"os"
	"path/filepath"
	"testing"
)

// Files adds every file matching the patterns to the corpus. A pattern
// that matches no file, or a file that cannot be read, fails the target:
// a moved or emptied testdata directory would otherwise silently leave it
// fuzzing from nothing.
func Files(f *testing.F, patterns ...string) {
	f.Helper()
	for _, p := range patterns {
		files, err := filepath.Glob(p)
		if err != nil {
			f.Fatalf("seed pattern %s: %v", p, err)
		}
		n := 0
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatalf("seed %s: %v", file, err)
			}
			f.Add(b)
			n++
		}
		if n == 0 {
			f.Fatalf("no seed file matches %s", p)
		}
	}
}
