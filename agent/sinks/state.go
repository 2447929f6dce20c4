package sinks

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/internal/atomicfile"
)

// The state that lets a sink send changes only: the last report
// delivered, and when a full one last went. Both live in the state
// directory, root's alone, so `vigie report` and the service agree.
const (
	previousFile = "last-report.json"
	lastFullFile = "last-full-report"
	// maxPrevious bounds what is read back of the last report: a report
	// is tens of kilobytes.
	maxPrevious = 16 << 20
)

// previous returns the last report delivered, or nil when there is none
// or it does not decode (the next report is then sent whole).
func previous(stateDir string) *report.Report {
	// The state directory is root's (0700): no user can plant a link or
	// a FIFO there, so a bounded read is all the care it needs.
	f, err := os.Open(filepath.Join(stateDir, previousFile))
	if err != nil {
		return nil
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPrevious+1))
	if err != nil || len(b) > maxPrevious {
		return nil
	}
	var r report.Report
	if json.Unmarshal(b, &r) != nil || r.Schema != report.SchemaV1 {
		return nil
	}
	return &r
}

func lastFull(stateDir string) time.Time {
	b, err := os.ReadFile(filepath.Join(stateDir, lastFullFile))
	if err != nil {
		return time.Time{}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(n, 0)
}

// remember keeps rep as the report the next one is compared with, and
// when full, the time of this full report. lost forgets the last full
// report instead, so the next report goes whole: a sink missed a change.
func remember(stateDir string, rep *report.Report, full, lost bool) error {
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(stateDir, previousFile), b, 0o600); err != nil {
		return err
	}
	if lost {
		if err := os.Remove(filepath.Join(stateDir, lastFullFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if full {
		return atomicfile.Write(filepath.Join(stateDir, lastFullFile), []byte(strconv.FormatInt(rep.StartedAt.Unix(), 10)+"\n"), 0o600)
	}
	return nil
}
