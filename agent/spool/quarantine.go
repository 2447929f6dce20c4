package spool

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vigie-agent/vigie/internal/atomicfile"
	"github.com/vigie-agent/vigie/internal/textbound"
)

const (
	corruptDir  = "corrupt"
	rejectedDir = "rejected"
	// quarantineKeep is how many reports each quarantine directory keeps
	// for a person to look at; the oldest go first.
	quarantineKeep = 20
	// reasonSuffix names the side file that says why a report was rejected.
	reasonSuffix = ".reason"
	// maxReason bounds the reason kept beside a rejected report.
	maxReason = 4096
)

// ErrCorrupt is wrapped by Read's error for a file that is not a gzip
// compressed JSON object. Read has already moved it to the corrupt/
// directory: the caller skips it and goes on with the next report.
var ErrCorrupt = errors.New("corrupt spooled report")

// Read returns the gzip body of e, checked: it must inflate, within
// MaxReportSize, to one JSON object. A file that does not (a torn disk
// block, a file someone edited) would fail at the endpoint every time and
// hold back every report after it, so Read moves it to corrupt/ and returns
// an error wrapping ErrCorrupt. A report no longer in the spool gives an
// error wrapping fs.ErrNotExist.
func (s *Spool) Read(e Entry) ([]byte, error) {
	p, err := s.path(e)
	if err != nil {
		return nil, err
	}
	gz, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if why := checkGzipJSON(gz); why != "" {
		if err := s.mutate(func() error { return s.quarantine(e, corruptDir, "") }); err != nil {
			return nil, fmt.Errorf("report %s in %s is corrupt (%s), and moving it aside failed: %w", e.ID, p, why, err)
		}
		return nil, fmt.Errorf("report %s in %s: %s, moved to %s: %w", e.ID, p, why, s.sub(corruptDir), ErrCorrupt)
	}
	return gz, nil
}

// checkGzipJSON returns why gz is not a gzip compressed JSON object, or "".
func checkGzipJSON(gz []byte) string {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return "not gzip: " + err.Error()
	}
	body, err := io.ReadAll(io.LimitReader(zr, MaxReportSize+1))
	if err != nil {
		return "gzip stream broken: " + err.Error()
	}
	if len(body) > MaxReportSize {
		return fmt.Sprintf("inflates beyond %d bytes", MaxReportSize)
	}
	if !isJSONObject(body) {
		return "content is not a JSON object"
	}
	return ""
}

// Reject moves a report the endpoint refused for good to rejected/, with
// reason (the endpoint's answer) in a side file "<name>.reason", so that a
// person can see what was refused and why; the next reports go on. The
// directory keeps the newest 20.
func (s *Spool) Reject(e Entry, reason string) error {
	if _, err := s.path(e); err != nil {
		return err
	}
	return s.mutate(func() error { return s.quarantine(e, rejectedDir, reason) })
}

// quarantine moves e into the subdirectory sub, writing reason beside it
// first when there is one (so a rejected report never lacks its reason),
// and trims sub to the newest quarantineKeep reports. A report already gone
// is not an error. The caller holds the change lock.
func (s *Spool) quarantine(e Entry, sub, reason string) error {
	qdir := s.sub(sub)
	if err := makePrivateDir(qdir); err != nil {
		return err
	}
	src := filepath.Join(s.dir, e.Name)
	if _, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if reason != "" {
		text := fmt.Sprintf("%s\n%s\n", time.Now().UTC().Format(time.RFC3339), textbound.Truncate(reason, maxReason))
		if err := atomicfile.Write(filepath.Join(qdir, e.Name+reasonSuffix), []byte(text), fileMode); err != nil {
			return err
		}
	}
	dst := filepath.Join(qdir, e.Name)
	if err := os.Rename(src, dst); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("move %s to %s: %w", src, dst, err)
	}
	return trimQuarantine(qdir, quarantineKeep)
}

// trimQuarantine keeps the newest keep reports of dir, removing older ones
// with their side files. A side file whose report is missing counts as a
// report of its own, so that nothing piles up without bound.
func trimQuarantine(dir string, keep int) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	files := map[string][]string{} // report name -> its files
	for _, de := range des {
		base := strings.TrimSuffix(de.Name(), reasonSuffix)
		if _, _, _, ok := parseName(base); !ok {
			continue
		}
		files[base] = append(files[base], de.Name())
	}
	if len(files) <= keep {
		return nil
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names[:len(names)-keep] {
		for _, f := range files[n] {
			p := filepath.Join(dir, f)
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove %s: %w", p, err)
			}
		}
	}
	return nil
}
