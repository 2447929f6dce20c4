package remediations

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrBusy is returned by TryLock while another vigie process holds the lock.
var ErrBusy = errors.New("another vigie fix, undo or service cycle is changing this host")

// Lock is the one lock fix, undo, the revert of interrupted runs and the
// service's remediation take before they read or write the journal: two
// of them at once would revert each other's runs (a run being validated
// looks like an interrupted one). It is an flock(2) on a file of the state
// directory, so the kernel releases it when its holder dies, even by
// kill -9, and a run left "applying" under a free lock is an interrupted
// one.
type Lock struct{ f *os.File }

// TryLock takes the lock of the state directory dir without waiting. When
// another process holds it, the error wraps ErrBusy and names that
// process's pid.
func TryLock(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	p := filepath.Join(dir, "lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := make([]byte, 32)
		n, _ := f.ReadAt(holder, 0)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(holder[:n]))); perr == nil && pid > 0 {
				return nil, fmt.Errorf("%w (pid %d)", ErrBusy, pid)
			}
			return nil, ErrBusy
		}
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	// The holder's pid, for the message of the process that has to wait.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}
