package spool

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func gzipOf(t *testing.T, b []byte) []byte {
	t.Helper()
	gz, err := compress(b)
	if err != nil {
		t.Fatal(err)
	}
	return gz
}

// listDir returns the names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	sort.Strings(out)
	return out
}

// TestReadCorrupt overwrites the middle of three reports with damaged
// content: Read must quarantine it, say ErrCorrupt, and leave the others
// readable, in order.
func TestReadCorrupt(t *testing.T) {
	valid := gzipOf(t, report("b"))
	tests := []struct {
		name    string
		content []byte
	}{
		{"garbage", []byte("not gzip at all\x00\xff")},
		{"empty", nil},
		{"gzip of text", gzipOf(t, []byte("hello, world"))},
		{"gzip of a JSON array", gzipOf(t, []byte(`[{"id":"b"}]`))},
		{"gzip of truncated JSON", gzipOf(t, []byte(`{"id":"b"`))},
		{"truncated gzip", valid[:len(valid)-6]},
		{"bad checksum", append(append([]byte{}, valid[:len(valid)-8]...), 0, 0, 0, 0, 0, 0, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir, 10, 1<<20)
			put(t, s, "a", "b", "c")
			es, _ := s.Pending()
			if err := os.WriteFile(filepath.Join(dir, es[1].Name), tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			var read []string
			for _, e := range es {
				gz, err := s.Read(e)
				if errors.Is(err, ErrCorrupt) {
					continue
				}
				if err != nil {
					t.Fatalf("read %s: %v", e.ID, err)
				}
				read = append(read, e.ID+"="+string(inflate(t, gz)))
			}
			want := []string{"a=" + string(report("a")), "c=" + string(report("c"))}
			if strings.Join(read, " ") != strings.Join(want, " ") {
				t.Errorf("read %v", read)
			}
			if got := pendingIDs(t, s); strings.Join(got, ",") != "a,c" {
				t.Errorf("pending after quarantine %v", got)
			}
			q := listDir(t, filepath.Join(dir, corruptDir))
			if len(q) != 1 || q[0] != es[1].Name {
				t.Errorf("corrupt/ holds %v", q)
			}
			got, _ := os.ReadFile(filepath.Join(dir, corruptDir, es[1].Name))
			if !bytes.Equal(got, tt.content) {
				t.Error("quarantined file was changed")
			}
		})
	}
}

func TestReadRefusesForeignEntries(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 10, 1<<20)
	put(t, s, "a")
	es, _ := s.Pending()
	for _, e := range []Entry{
		{ID: "a", Name: "../a"},
		{ID: "x", Name: es[0].Name},
		{ID: "a", Name: "dropped"},
	} {
		if _, err := s.Read(e); err == nil {
			t.Errorf("Read(%+v) accepted", e)
		}
		if err := s.Remove(e); err == nil {
			t.Errorf("Remove(%+v) accepted", e)
		}
		if err := s.Reject(e, "x"); err == nil {
			t.Errorf("Reject(%+v) accepted", e)
		}
	}
	if got := pendingIDs(t, s); len(got) != 1 {
		t.Errorf("pending %v", got)
	}
}

func TestCorruptDirIsBounded(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 100, 1<<20)
	all := ids("r", quarantineKeep+5)
	put(t, s, all...)
	es, _ := s.Pending()
	for _, e := range es {
		if err := os.WriteFile(filepath.Join(dir, e.Name), []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Read(e); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("read %s: %v", e.ID, err)
		}
	}
	var want []string
	for _, e := range es[5:] {
		want = append(want, e.Name)
	}
	if got := listDir(t, filepath.Join(dir, corruptDir)); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("corrupt/ holds %v, want the newest %d", got, quarantineKeep)
	}
}

func TestReject(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 100, 1<<20)
	all := ids("r", quarantineKeep+3)
	put(t, s, all...)
	es, _ := s.Pending()
	// An orphan reason, as a crash between the two steps would leave, of a
	// report older than all: trimmed like a report.
	orphan := filepath.Join(dir, rejectedDir, "0000000000000000001-0000000000-old.json.gz"+reasonSuffix)
	if err := os.MkdirAll(filepath.Dir(orphan), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(orphan, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, e := range es {
		if err := s.Reject(e, fmt.Sprintf("400 Bad Request: report %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := pendingIDs(t, s); len(got) != 0 {
		t.Errorf("pending %v", got)
	}
	var want []string
	for _, e := range es[3:] {
		want = append(want, e.Name, e.Name+reasonSuffix)
	}
	sort.Strings(want)
	if got := listDir(t, filepath.Join(dir, rejectedDir)); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("rejected/ holds %v\nwant %v", got, want)
	}
	last := es[len(es)-1]
	reason, err := os.ReadFile(filepath.Join(dir, rejectedDir, last.Name+reasonSuffix))
	if err != nil || !strings.Contains(string(reason), fmt.Sprintf("400 Bad Request: report %d", len(es)-1)) {
		t.Errorf("reason file: %q %v", reason, err)
	}
	if err := s.Reject(last, "again"); err != nil {
		t.Errorf("rejecting a report already moved: %v", err)
	}
}
