// Package host is where vigie meets the inspected system: where its files,
// procfs and sysfs are (Env), the one runner every command goes through,
// and what several areas read (os-release here; accounts, systemd units,
// the provider's metadata and the safe file reader in the packages below).
// The areas in checks/ turn these facts into findings and do no I/O of
// their own but through them.
package host

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vigie-agent/vigie/host/hostfs"
)

// Env says where an area reads the system. Tests point it at captured trees
// and replayed command output; production uses "/", "/proc", "/sys" and the
// real commands.
type Env struct {
	Root string // prefix for configuration files, "/" in production
	Proc string // procfs mount
	Sys  string // sysfs mount
	Cmd  Runner
	// Image says Root is an image tree (a mounted disk image, a build
	// chroot, an mmdebstrap directory) and not a running system: nothing
	// of it runs, so what only a running system can tell (the kernel's
	// state, processes, sockets, systemd, a live sshd, the provider's
	// metadata) is not read, and neither are Proc and Sys, which belong to
	// the machine vigie runs on. Resolve sets it.
	Image bool
}

// DefaultEnv reads the live system.
func DefaultEnv() *Env {
	return &Env{Root: "/", Proc: "/proc", Sys: "/sys", Cmd: ExecRunner{}}
}

// Live reports whether env is the running system, not a captured tree:
// only then may an area ask systemd, the kernel or the network.
func (e *Env) Live() bool { return e.Root == "" || e.Root == "/" }

// Resolve settles where the system is read before a run: "/" is the
// running system; any other root is an image tree, made absolute, which
// must be a directory holding etc/, as every root file system does.
func (e *Env) Resolve() error {
	if e.Root == "" || filepath.Clean(e.Root) == "/" {
		e.Root, e.Image = "/", false
		return nil
	}
	abs, err := filepath.Abs(e.Root)
	if err != nil {
		return fmt.Errorf("inspected root %s: %w", e.Root, err)
	}
	// The root may be reached through a link; its etc may not, since a
	// link there could lead the reads of /etc out of the tree.
	for _, p := range []string{abs, filepath.Join(abs, "etc")} {
		stat := os.Lstat
		if p == abs {
			stat = os.Stat
		}
		st, err := stat(p)
		if err != nil {
			return fmt.Errorf("inspected root %s is not a root file system: %w", abs, err)
		}
		if !st.IsDir() {
			return fmt.Errorf("inspected root %s is not a root file system: %s is not a directory", abs, p)
		}
	}
	e.Root, e.Image = abs, true
	return nil
}

// FS reads the inspected system's files the one safe way (package hostfs):
// no symlink a user planted followed as root, no FIFO or device opened, no
// file read past its cap.
func (e *Env) FS() hostfs.FS { return hostfs.FS{Root: e.Root} }

// ReadFile reads a file of the inspected system through FS.
func (e *Env) ReadFile(ctx context.Context, p string, spec hostfs.Spec) ([]byte, error) {
	return e.FS().ReadFile(ctx, p, spec)
}

// Path maps an absolute path of the inspected system to where it is read.
func (e *Env) Path(p string) string {
	if e.Live() {
		return p
	}
	return filepath.Join(e.Root, p)
}
