package spool

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// report returns a small JSON report with the given id.
func report(id string) []byte {
	return []byte(fmt.Sprintf(`{"schema":"vigie.report/v1","id":%q}`, id))
}

func open(t *testing.T, dir string, maxFiles int, maxBytes int64) *Spool {
	t.Helper()
	s, err := Open(dir, maxFiles, maxBytes)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func put(t *testing.T, s *Spool, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := s.Put(id, report(id)); err != nil {
			t.Fatalf("put %s: %v", id, err)
		}
	}
}

// pendingIDs lists the pending ids in delivery order.
func pendingIDs(t *testing.T, s *Spool) []string {
	t.Helper()
	es, err := s.Pending()
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

func inflate(t *testing.T, gz []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%02d", prefix, i)
	}
	return out
}

func TestPutThenReadRoundTrip(t *testing.T) {
	s := open(t, t.TempDir(), 10, 1<<20)
	put(t, s, "0a1b2c")
	es, err := s.Pending()
	if err != nil || len(es) != 1 {
		t.Fatalf("pending: %v %v", es, err)
	}
	gz, err := s.Read(es[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := inflate(t, gz); !bytes.Equal(got, report("0a1b2c")) {
		t.Errorf("read back %s", got)
	}
	if es[0].Size != int64(len(gz)) {
		t.Errorf("entry size %d, file holds %d bytes", es[0].Size, len(gz))
	}
	if err := s.Remove(es[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(es[0]); err != nil {
		t.Errorf("removing a report already gone: %v", err)
	}
	if _, err := s.Read(es[0]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("read after remove: %v", err)
	}
}

// TestOrder puts reports under clocks that stand still or step back: the
// delivery order must stay the arrival order, also after reopening.
func TestOrder(t *testing.T) {
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		clocks []time.Time // one per Put
	}{
		{"advancing", []time.Time{base, base.Add(time.Second), base.Add(2 * time.Second)}},
		{"same nanosecond", []time.Time{base, base, base, base}},
		{"stepped back", []time.Time{base, base.Add(-time.Hour), base.Add(-2 * time.Hour), base.Add(time.Nanosecond)}},
		{"before 1970", []time.Time{time.Unix(-5, 0), time.Unix(-6, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			// Ids that sort against arrival, so that the id cannot be
			// what orders the names.
			want := make([]string, len(tt.clocks))
			for i := range want {
				want[i] = fmt.Sprintf("z%02d", len(want)-i)
			}
			for i, c := range tt.clocks {
				// A fresh Spool each time: the order must come from the
				// disk, not from memory.
				s := open(t, dir, 100, 1<<20)
				s.now = func() time.Time { return c }
				put(t, s, want[i])
			}
			got := pendingIDs(t, open(t, dir, 100, 1<<20))
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("order %v, want %v", got, want)
			}
		})
	}
}

func TestNextNameSequenceOverflow(t *testing.T) {
	s := &Spool{now: func() time.Time { return time.Unix(0, 5) }}
	last := Entry{Name: fmt.Sprintf("%019d-%010d-a.json.gz", 5, maxSeq)}
	name := s.nextName([]Entry{last}, "b")
	if name <= last.Name {
		t.Errorf("%s sorts before %s", name, last.Name)
	}
	if _, _, id, ok := parseName(name); !ok || id != "b" {
		t.Errorf("%s does not parse back", name)
	}
}

func TestCheckID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"0123456789abcdef0123456789abcdef", true},
		{"8e03978e-40d5-43e8-bc93-6894a57f9324", true},
		{"ABC-def", true},
		{strings.Repeat("a", 128), true},
		{"", false},
		{"../x", false},
		{"a/b", false},
		{".", false},
		{"a b", false},
		{"a\nb", false},
		{"a_b", false},
		{"é", false},
		{strings.Repeat("a", 129), false},
	}
	s := open(t, t.TempDir(), 10, 1<<20)
	for _, tt := range tests {
		if err := CheckID(tt.id); (err == nil) != tt.ok {
			t.Errorf("CheckID(%q) = %v, want ok=%v", tt.id, err, tt.ok)
		}
		if err := s.Put(tt.id, report("x")); (err == nil) != tt.ok {
			t.Errorf("Put(%q) = %v, want ok=%v", tt.id, err, tt.ok)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(s.Dir()), "x")); err == nil {
		t.Error("a file escaped the spool directory")
	}
}

func TestPutRefusesNonObjects(t *testing.T) {
	s := open(t, t.TempDir(), 10, 1<<20)
	for _, body := range []string{"", "null", "[1]", `{"a":`, `{} {}`, "garbage"} {
		if err := s.Put("a", []byte(body)); err == nil {
			t.Errorf("Put accepted %q", body)
		}
	}
	if got := pendingIDs(t, s); len(got) != 0 {
		t.Errorf("pending %v", got)
	}
}

func TestIgnoresOtherFiles(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 10, 1<<20)
	put(t, s, "a")
	es, _ := s.Pending()
	stale := filepath.Join(dir, "."+es[0].Name+".vigie-123456")
	others := []string{stale, filepath.Join(dir, "README"), filepath.Join(dir, "1-2-x.json.gz"),
		filepath.Join(dir, es[0].Name+".bak")}
	for _, p := range others {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "0000000000000000001-0000000000-d.json.gz"), 0o700); err != nil {
		t.Fatal(err)
	}
	put(t, s, "b")
	if got := pendingIDs(t, s); strings.Join(got, ",") != "a,b" {
		t.Errorf("pending %v", got)
	}
	open(t, dir, 10, 1<<20)
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open left the stale temporary file: %v", err)
	}
	if _, err := os.Stat(others[1]); err != nil {
		t.Errorf("Open removed a file that is not its own: %v", err)
	}
}

func TestPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir, 1, 1<<20)
	put(t, s, "a", "b")
	es, _ := s.Pending()
	if err := s.Reject(es[0], "no"); err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{
		dir:                                         0o700,
		filepath.Join(dir, rejectedDir):             0o700,
		filepath.Join(dir, droppedName):             0o600,
		filepath.Join(dir, mutateLockName):          0o600,
		filepath.Join(dir, rejectedDir, es[0].Name): 0o600,
		filepath.Join(dir, rejectedDir, es[0].Name+reasonSuffix): 0o600,
	}
	for p, mode := range want {
		st, err := os.Stat(p)
		if err != nil {
			t.Error(err)
			continue
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %o, want %o", p, st.Mode().Perm(), mode)
		}
	}
}

func TestOpenRefusesBadArguments(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dir      string
		maxFiles int
		maxBytes int64
	}{
		{t.TempDir(), 0, 1},
		{t.TempDir(), 1, 0},
		{t.TempDir(), -1, 1},
		{f, 1, 1},
	}
	for _, tt := range tests {
		if _, err := Open(tt.dir, tt.maxFiles, tt.maxBytes); err == nil {
			t.Errorf("Open(%s, %d, %d) accepted", tt.dir, tt.maxFiles, tt.maxBytes)
		}
	}
}

// TestConcurrentPut has goroutines of two Spool values, as two processes
// would, put at once: no report may be lost or duplicated, and the bounds
// must hold with every drop counted.
func TestConcurrentPut(t *testing.T) {
	for _, maxFiles := range []int{1000, 50} {
		t.Run(fmt.Sprint(maxFiles), func(t *testing.T) {
			dir := t.TempDir()
			spools := []*Spool{open(t, dir, maxFiles, 1<<30), open(t, dir, maxFiles, 1<<30)}
			var wg sync.WaitGroup
			errs := make(chan error, 8*25)
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					s := spools[g%2]
					for i := 0; i < 25; i++ {
						id := fmt.Sprintf("g%d-%02d", g, i)
						errs <- s.Put(id, report(id))
					}
				}(g)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			got := pendingIDs(t, spools[0])
			seen := map[string]bool{}
			for _, id := range got {
				if seen[id] {
					t.Errorf("%s twice", id)
				}
				seen[id] = true
			}
			dropped, _ := spools[1].TakeDropped()
			if want := min(200, maxFiles); len(got) != want || dropped != 200-want {
				t.Errorf("%d pending and %d dropped, want %d and %d", len(got), dropped, want, 200-want)
			}
			// Each goroutine's reports keep their order.
			last := map[string]string{}
			for _, id := range got {
				g := id[:2]
				if id < last[g] {
					t.Errorf("%s after %s", id, last[g])
				}
				last[g] = id
			}
		})
	}
}
