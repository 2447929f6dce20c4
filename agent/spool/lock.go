package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// mutateLockName guards every change to the directory: writing a
	// report and the bounds that follow, removing, quarantining, the
	// counter. It is held for file operations only, never across the
	// network.
	mutateLockName = "spool.lock"
	// deliverLockName serialises delivery passes (WithLock).
	deliverLockName = "deliver.lock"
	// mutateWait is how long a change waits for another process's: those
	// last milliseconds, so a longer wait means something is stuck, and an
	// error says so instead of hanging the service.
	mutateWait = 30 * time.Second
	// maxPoll is the longest pause between two attempts to take a lock.
	maxPoll = 50 * time.Millisecond
)

// WithLock runs fn while this process alone delivers from the spool: it
// takes an exclusive flock on "deliver.lock", waiting for another
// process's pass to end or for ctx to be done, whichever comes first.
//
// It is a separate lock from the one around changes (Put, Remove, Reject,
// the bounds), which fn's calls take for milliseconds each. A delivery
// pass can last minutes while the endpoint is slow, and an operator's
// `vigie report` must still be able to queue its report meanwhile; the
// report is appended after every pending one, so order holds. The one
// overlap left is benign: Put may drop, for the bounds, the oldest report
// while a pass is sending it; Remove then finds it gone, and the drop is
// counted although the endpoint got the report.
//
// The lock is not reentrant: fn must not call WithLock.
func (s *Spool) WithLock(ctx context.Context, fn func() error) error {
	f, err := lockFile(ctx, filepath.Join(s.dir, deliverLockName))
	if err != nil {
		return err
	}
	defer unlockFile(f)
	return fn()
}

// mutate runs fn under the change lock.
func (s *Spool) mutate(fn func() error) error {
	ctx, cancel := context.WithTimeout(context.Background(), mutateWait)
	defer cancel()
	f, err := lockFile(ctx, filepath.Join(s.dir, mutateLockName))
	if err != nil {
		return err
	}
	defer unlockFile(f)
	return fn()
}

// lockFile opens path and takes an exclusive flock on it. Each call opens
// its own file description, so two goroutines of one process exclude each
// other as two processes do. It polls rather than blocks so that ctx can
// end the wait.
func lockFile(ctx context.Context, path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	pause := time.Millisecond
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("lock %s: held by another process: %w", path, ctx.Err())
		case <-t.C:
		}
		pause = min(2*pause, maxPoll)
	}
}

// unlockFile releases the lock; closing the only descriptor of the file
// description releases it even if the explicit unlock failed.
func unlockFile(f *os.File) {
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	_ = f.Close()
}
