package hostfs

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkReadFile reads a small configuration file the three ways a
// read can go: one openat2 (no symlink on the way), the component walk (a
// link on the way), and as an account (always walked, access checked).
func BenchmarkReadFile(b *testing.B) {
	dir := b.TempDir()
	p := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(p, make([]byte, 4096), 0o644); err != nil {
		b.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("sshd_config", link); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		path string
		spec Spec
	}{
		{"openat2", p, Config},
		{"walk", link, Config},
		{"as-account", p, Spec{As: &Cred{UID: 0}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Host.ReadFile(ctx, bc.path, bc.spec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("os.ReadFile", func(b *testing.B) {
		for b.Loop() {
			if _, err := os.ReadFile(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
