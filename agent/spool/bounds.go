package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vigie-agent/vigie/internal/atomicfile"
	"github.com/vigie-agent/vigie/internal/textbound"
)

// droppedName is the file counting reports dropped since the last
// TakeDropped. It does not match a report's name, so it is never listed.
const droppedName = "dropped"

// enforceBounds deletes the oldest reports while the spool holds more than
// maxFiles files or maxBytes bytes, and adds the number deleted to the
// dropped counter. The caller holds the change lock.
func (s *Spool) enforceBounds() error {
	entries, err := s.Pending()
	if err != nil {
		return err
	}
	var total int64
	for _, e := range entries {
		total += e.Size
	}
	dropped := 0
	var rmErr error
	for len(entries) > 0 && (len(entries) > s.maxFiles || total > s.maxBytes) {
		e := entries[0]
		entries = entries[1:]
		total -= e.Size
		p := filepath.Join(s.dir, e.Name)
		if err := os.Remove(p); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				rmErr = fmt.Errorf("drop %s: %w", p, err)
				break
			}
			continue
		}
		dropped++
	}
	if dropped > 0 {
		if err := s.addDropped(dropped); err != nil {
			return errors.Join(rmErr, err)
		}
	}
	return rmErr
}

// addDropped adds n to the persistent counter. A counter file that does not
// hold a number is overwritten with n and the damage reported, so that one
// bad write does not stop counting for good. The caller holds the change
// lock.
func (s *Spool) addDropped(n int) error {
	old, readErr := s.readDropped()
	if err := s.writeDropped(old + n); err != nil {
		return err
	}
	return readErr
}

// TakeDropped returns how many reports were dropped since the last call and
// resets the count, for the caller to put into the next report it builds.
// A damaged counter file is reset as well, and reported as an error with a
// count of 0.
func (s *Spool) TakeDropped() (int, error) {
	var n int
	err := s.mutate(func() error {
		var readErr error
		n, readErr = s.readDropped()
		if n == 0 && readErr == nil {
			return nil
		}
		if err := s.writeDropped(0); err != nil {
			n = 0 // still counted on disk: the next call returns it
			return err
		}
		return readErr
	})
	return n, err
}

// readDropped returns the counter, 0 when the file does not exist.
func (s *Spool) readDropped() (int, error) {
	p := filepath.Join(s.dir, droppedName)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", p, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("read %s: not a count of dropped reports: %q", p, textbound.Truncate(string(b), 32))
	}
	return n, nil
}

func (s *Spool) writeDropped(n int) error {
	p := filepath.Join(s.dir, droppedName)
	if err := atomicfile.Write(p, []byte(strconv.Itoa(n)+"\n"), fileMode); err != nil {
		return fmt.Errorf("record dropped reports: %w", err)
	}
	return nil
}
