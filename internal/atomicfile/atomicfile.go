// Package atomicfile replaces a file so that a reader sees the old content
// or the new, never a mix, and a crash leaves one of the two: what the
// remediation engine, the spool and the sinks all need of a write.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// selinuxXattr is the file's SELinux label, kept across rewrites so that
// sshd and others may still read the file on RHEL.
const selinuxXattr = "security.selinux"

// Write replaces path with data: a temporary file in the same
// directory, fsync, the owner, mode and SELinux label of the file it
// replaces (mode for a new file), rename, fsync of the directory. A reader
// sees the old file or the new one, never a mix.
func Write(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	uid, gid := -1, -1
	var label []byte
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(sys.Uid), int(sys.Gid)
		}
		label = getXattr(path, selinuxXattr)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".vigie-*")
	if err != nil {
		return fmt.Errorf("create temporary file in %s: %w", dir, err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			_ = os.Remove(name)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("chmod %s: %w", name, err)
	}
	if uid >= 0 {
		if err := tmp.Chown(uid, gid); err != nil {
			tmp.Close()
			return fmt.Errorf("chown %s: %w", name, err)
		}
	}
	if label != nil {
		_ = unix.Fsetxattr(int(tmp.Fd()), selinuxXattr, label, 0)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("fsync %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", name, path, err)
	}
	ok = true
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

func getXattr(path, name string) []byte {
	buf := make([]byte, 256)
	n, err := unix.Getxattr(path, name, buf)
	if err != nil || n <= 0 {
		return nil
	}
	return buf[:n]
}
