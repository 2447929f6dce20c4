package spool

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// gzSize is the spooled size of report(id) for an id of the length of "r00".
func gzSize(t *testing.T) int64 {
	gz, err := compress(report("r00"))
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(gz))
}

func TestBounds(t *testing.T) {
	one := gzSize(t)
	tests := []struct {
		name     string
		maxFiles int
		maxBytes int64
		puts     int
		want     []string // pending ids after the puts
	}{
		{"under both", 5, 100 * one, 4, []string{"r00", "r01", "r02", "r03"}},
		{"files", 3, 100 * one, 5, []string{"r02", "r03", "r04"}},
		{"bytes", 100, 2*one + one/2, 5, []string{"r03", "r04"}},
		{"bytes exactly", 100, 2 * one, 3, []string{"r01", "r02"}},
		{"one file", 1, 100 * one, 3, []string{"r02"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir, tt.maxFiles, tt.maxBytes)
			put(t, s, ids("r", tt.puts)...)
			if got := pendingIDs(t, s); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("pending %v, want %v", got, tt.want)
			}
			files, size, err := s.Depth()
			if err != nil || files != len(tt.want) || size != int64(len(tt.want))*one {
				t.Errorf("depth %d files %d bytes %v", files, size, err)
			}
			// The counter is on disk: a new process sees it.
			n, err := open(t, dir, tt.maxFiles, tt.maxBytes).TakeDropped()
			if err != nil || n != tt.puts-len(tt.want) {
				t.Errorf("TakeDropped = %d, %v; want %d", n, err, tt.puts-len(tt.want))
			}
			if n, err := s.TakeDropped(); err != nil || n != 0 {
				t.Errorf("second TakeDropped = %d, %v; want 0", n, err)
			}
		})
	}
}

func TestDroppedAccumulatesAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	put(t, open(t, dir, 1, 1<<20), "a", "b")
	put(t, open(t, dir, 1, 1<<20), "c", "d")
	if n, err := open(t, dir, 1, 1<<20).TakeDropped(); err != nil || n != 3 {
		t.Errorf("TakeDropped = %d, %v; want 3", n, err)
	}
}

func TestOpenAppliesLoweredBounds(t *testing.T) {
	dir := t.TempDir()
	put(t, open(t, dir, 10, 1<<20), ids("r", 6)...)
	s := open(t, dir, 2, 1<<20)
	if got := pendingIDs(t, s); strings.Join(got, ",") != "r04,r05" {
		t.Errorf("pending %v", got)
	}
	if n, _ := s.TakeDropped(); n != 4 {
		t.Errorf("dropped %d, want 4", n)
	}
}

func TestTooLarge(t *testing.T) {
	one := gzSize(t)
	s := open(t, t.TempDir(), 10, one+10)
	put(t, s, "r00")
	noise := make([]byte, 3000)
	_, _ = rand.Read(noise)
	big := []byte(`{"pad":"` + hex.EncodeToString(noise) + `"}`) // random: does not compress to one+10 bytes
	err := s.Put("r01", big)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Put of a report larger than the spool: %v", err)
	}
	if got := pendingIDs(t, s); strings.Join(got, ",") != "r00" {
		t.Errorf("pending %v: the refused report displaced others", got)
	}
	if n, _ := s.TakeDropped(); n != 1 {
		t.Errorf("dropped %d, want 1", n)
	}
	if err := s.Put("r02", make([]byte, MaxReportSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Put beyond MaxReportSize: %v", err)
	}
}

func TestDamagedCounter(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 1, 1<<20)
	if err := os.WriteFile(filepath.Join(dir, droppedName), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if n, err := s.TakeDropped(); err == nil || n != 0 {
		t.Errorf("TakeDropped on a damaged counter = %d, %v", n, err)
	}
	if n, err := s.TakeDropped(); err != nil || n != 0 {
		t.Errorf("after reset: %d, %v", n, err)
	}
	if err := os.WriteFile(filepath.Join(dir, droppedName), []byte("-3"), 0o600); err != nil {
		t.Fatal(err)
	}
	put(t, s, "a")
	if err := s.Put("b", report("b")); err == nil {
		t.Error("damaged counter not reported")
	}
	if n, err := s.TakeDropped(); err != nil || n != 1 {
		t.Errorf("counter after repair = %d, %v; want 1", n, err)
	}
}
