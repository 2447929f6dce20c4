// Package spool keeps the reports that have not reached the endpoint yet:
// one gzip file per report in a directory, in arrival order, bounded in
// count and bytes so that an endpoint down for a month cannot fill the
// disk of the host vigie is meant to protect. When the bounds are hit the
// oldest reports go first and a persistent counter says how many went, so
// the fleet learns that something was lost instead of seeing a silent gap.
//
// Several vigie processes may use one spool at once (the service and an
// operator's command): every change to the directory happens under an
// exclusive flock on a lock file, and a second lock serialises whole
// delivery passes (see WithLock).
package spool

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/vigie-agent/vigie/internal/atomicfile"
)

// DefaultDir is where the service keeps its spool.
const DefaultDir = "/var/lib/vigie/spool"

// MaxReportSize bounds a report's JSON before compression. Put refuses a
// larger one and Read treats a file that inflates beyond it as corrupt, so
// a crafted file cannot make vigie, which runs as root, inflate without end.
const MaxReportSize = 64 << 20

const (
	dirMode  = 0o700
	fileMode = 0o600
	// maxIDLen keeps file names well under the 255 bytes filesystems allow.
	maxIDLen = 128
	// maxSeq is the largest sequence number the 10-digit field holds.
	maxSeq = 9_999_999_999
)

var (
	idRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,128}$`)
	// nameRE matches a spooled report: unix nanoseconds, a sequence number
	// for reports within one nanosecond (or queued while the clock stood
	// behind the newest report), and the report id. Fixed widths make the
	// lexical order of names the arrival order. Temporary files of
	// WriteAtomic start with a dot and never match.
	nameRE = regexp.MustCompile(`^([0-9]{19})-([0-9]{10})-([A-Za-z0-9-]{1,128})\.json\.gz$`)
)

// ErrTooLarge is returned by Put for a report that could never fit in the
// spool's byte bound, or is larger than MaxReportSize.
var ErrTooLarge = errors.New("report too large for the spool")

// Spool is a directory of reports waiting for delivery. Its methods are safe
// for concurrent use by goroutines and by other processes using the same
// directory.
type Spool struct {
	dir      string
	maxFiles int
	maxBytes int64
	// now is the clock names are made from; tests replace it.
	now func() time.Time
}

// Entry is one spooled report.
type Entry struct {
	ID     string    // the report id, also the endpoint's idempotency key
	Name   string    // the file name in the spool directory
	Size   int64     // compressed bytes on disk
	Queued time.Time // when it was put, by the clock of that moment
}

// CheckID reports whether id can name a spooled report and travel as an
// HTTP header: 1 to 128 ASCII letters, digits and hyphens, so that an id
// can never be a path ("../x") or smuggle a header line.
func CheckID(id string) error {
	if !idRE.MatchString(id) {
		return fmt.Errorf("report id %q: want 1 to %d letters, digits or hyphens", id, maxIDLen)
	}
	return nil
}

// Open returns the spool in dir, creating the directory (mode 0700) if
// needed and tightening its mode if others could read it: reports describe
// the host's weaknesses. It removes temporary files that an interrupted
// write left and applies the bounds, which may have been lowered since the
// last run. maxFiles and maxBytes must be positive.
func Open(dir string, maxFiles int, maxBytes int64) (*Spool, error) {
	if maxFiles < 1 || maxBytes < 1 {
		return nil, fmt.Errorf("spool %s: bounds must be positive (files %d, bytes %d)", dir, maxFiles, maxBytes)
	}
	if err := makePrivateDir(dir); err != nil {
		return nil, err
	}
	s := &Spool{dir: dir, maxFiles: maxFiles, maxBytes: maxBytes, now: time.Now}
	err := s.mutate(func() error {
		for _, d := range []string{dir, s.sub(corruptDir), s.sub(rejectedDir)} {
			if err := removeStaleTemps(d); err != nil {
				return err
			}
		}
		return s.enforceBounds()
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Dir returns the spool's directory.
func (s *Spool) Dir() string { return s.dir }

// Put stores one report, body being its JSON object, compressed with gzip
// since that is what the endpoint receives. It is on disk (file and
// directory fsynced) when Put returns. If the spool then exceeds its bounds
// the oldest reports are dropped and counted (see TakeDropped). A report
// that could not fit even in an empty spool is counted as dropped too and
// Put returns an error wrapping ErrTooLarge.
func (s *Spool) Put(id string, body []byte) error {
	if err := CheckID(id); err != nil {
		return err
	}
	if len(body) > MaxReportSize {
		return s.dropTooLarge(fmt.Errorf("report %s: %d bytes of JSON, the limit is %d: %w", id, len(body), MaxReportSize, ErrTooLarge))
	}
	if !isJSONObject(body) {
		return fmt.Errorf("report %s: body is not a JSON object", id)
	}
	gz, err := compress(body)
	if err != nil {
		return fmt.Errorf("compress report %s: %w", id, err)
	}
	if int64(len(gz)) > s.maxBytes {
		return s.dropTooLarge(fmt.Errorf("report %s: %d bytes compressed, the spool holds at most %d: %w", id, len(gz), s.maxBytes, ErrTooLarge))
	}
	return s.mutate(func() error {
		entries, err := s.Pending()
		if err != nil {
			return err
		}
		name := s.nextName(entries, id)
		if err := atomicfile.Write(filepath.Join(s.dir, name), gz, fileMode); err != nil {
			return fmt.Errorf("spool report %s: %w", id, err)
		}
		return s.enforceBounds()
	})
}

// dropTooLarge counts a report that Put refuses for its size, so the fleet
// hears of it, and returns err.
func (s *Spool) dropTooLarge(err error) error {
	if cerr := s.mutate(func() error { return s.addDropped(1) }); cerr != nil {
		return fmt.Errorf("%w (and counting it as dropped failed: %v)", err, cerr)
	}
	return err
}

// nextName names a new report so that it sorts after every pending one:
// the current time, or the newest report's time with the next sequence
// number when the clock has not moved past it (same nanosecond, or a clock
// stepped back, as NTP does at boot on some instances).
func (s *Spool) nextName(pending []Entry, id string) string {
	nanos := s.now().UnixNano()
	if nanos < 0 {
		nanos = 0
	}
	var seq int64
	if n := len(pending); n > 0 {
		lastNanos, lastSeq, _, _ := parseName(pending[n-1].Name)
		if nanos <= lastNanos {
			nanos, seq = lastNanos, lastSeq+1
			if lastSeq >= maxSeq {
				nanos, seq = lastNanos+1, 0
			}
		}
	}
	return fmt.Sprintf("%019d-%010d-%s.json.gz", nanos, seq, id)
}

// parseName splits a report's file name; ok is false for any other file.
func parseName(name string) (nanos, seq int64, id string, ok bool) {
	m := nameRE.FindStringSubmatch(name)
	if m == nil {
		return 0, 0, "", false
	}
	nanos, err1 := strconv.ParseInt(m[1], 10, 64)
	seq, err2 := strconv.ParseInt(m[2], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, "", false
	}
	return nanos, seq, m[3], true
}

// Pending lists the spooled reports in delivery order, oldest first.
// Temporary files, the counter, the lock files and the quarantine
// directories are not reports and are not listed.
func (s *Spool) Pending() ([]Entry, error) {
	return listReports(s.dir)
}

// listReports lists the report files of dir in name order.
func listReports(dir string) ([]Entry, error) {
	des, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("read spool %s: %w", dir, err)
	}
	var out []Entry
	for _, de := range des {
		nanos, _, id, ok := parseName(de.Name())
		if !ok || !de.Type().IsRegular() {
			continue
		}
		info, err := de.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // delivered or dropped by another process meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("stat %s: %w", filepath.Join(dir, de.Name()), err)
		}
		out = append(out, Entry{ID: id, Name: de.Name(), Size: info.Size(), Queued: time.Unix(0, nanos)})
	}
	return out, nil
}

// Count returns how many reports wait in dir, without opening the spool
// (which would create it): a missing directory holds none.
func Count(dir string) (int, error) {
	es, err := listReports(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	return len(es), err
}

// Depth returns how many reports wait and their compressed size, for the
// operator and the metrics.
func (s *Spool) Depth() (files int, bytes int64, err error) {
	entries, err := s.Pending()
	if err != nil {
		return 0, 0, err
	}
	for _, e := range entries {
		bytes += e.Size
	}
	return len(entries), bytes, nil
}

// Remove deletes a delivered report. A report already gone (dropped by the
// bounds, or delivered by another process) is not an error: the goal is
// that it no longer waits.
func (s *Spool) Remove(e Entry) error {
	p, err := s.path(e)
	if err != nil {
		return err
	}
	return s.mutate(func() error {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", p, err)
		}
		return nil
	})
}

// path returns the file of e, refusing a name that is not a report's: an
// Entry is a plain struct a caller could have filled in.
func (s *Spool) path(e Entry) (string, error) {
	if _, _, id, ok := parseName(e.Name); !ok || id != e.ID {
		return "", fmt.Errorf("spool %s: %q is not the file of report %q", s.dir, e.Name, e.ID)
	}
	return filepath.Join(s.dir, e.Name), nil
}

func (s *Spool) sub(name string) string { return filepath.Join(s.dir, name) }

// makePrivateDir creates dir with mode 0700, or tightens an existing one.
func makePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, dirMode); err != nil {
			return fmt.Errorf("chmod %s: %w", dir, err)
		}
	}
	return nil
}

// removeStaleTemps deletes what an interrupted WriteAtomic left in dir
// (".<name>.vigie-<random>"). Every write into the spool happens under the
// mutation lock, which the caller holds, so no such file is in use.
func removeStaleTemps(dir string) error {
	matches, err := filepath.Glob(filepath.Join(dir, ".*.vigie-*"))
	if err != nil {
		return fmt.Errorf("list temporary files in %s: %w", dir, err)
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale %s: %w", m, err)
		}
	}
	return nil
}

func compress(body []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// isJSONObject reports whether b is exactly one valid JSON object.
func isJSONObject(b []byte) bool {
	t := bytes.TrimLeft(b, " \t\r\n")
	return len(t) > 0 && t[0] == '{' && json.Valid(b)
}
