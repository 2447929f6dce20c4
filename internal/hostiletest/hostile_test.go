package hostiletest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/internal/reportschema"
	"github.com/vigie-agent/vigie/internal/testenv"
)

// Bounds of a `vigie check --json` with every trick planted.
const (
	wallBound = 2 * time.Second
	rssBound  = 64 << 10 // KiB
)

// oddName and oddGECOS are what useradd --badname lets root give an
// account: invalid UTF-8 in the name (and so in the home's path), and a
// GECOS of 8 KB with invalid UTF-8, which a user can also set with chfn.
var (
	oddName  = "vh-names-\xff\xfe"
	oddGECOS = "Hostile \xff\xfe user " + strings.Repeat("G", 8000)
)

// TestHostileHomes plants every trick of scripts/hostile-home.sh, each in
// the home of its own account and as that account, starts a listener whose
// process name holds terminal escapes, and runs the real binary as root on
// this machine: `vigie check --json`, `vigie check --verbose` (the table),
// and `vigie report` to a journald stand-in, a textfile, a spool and an
// endpoint on loopback. Nothing vigie produces may hold the secret a
// symlink points it at, the table no control byte, and every area must
// finish, bounded in time and memory.
//
// Accounts exist in a private copy of /etc only (see nsWrapper); the homes,
// the secret and the processes are removed when the test ends, even when
// it fails. VIGIE_HOSTILE_TRICKS=fifo,zero plants only those tricks, to
// tell which one breaks what.
func TestHostileHomes(t *testing.T) {
	testenv.Integration(t)
	testenv.Root(t, "it creates accounts (in a private copy of /etc), plants their homes as each of them and runs vigie as root on this machine")
	for _, tool := range hostTools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: scripts/setup-debian.sh installs what this test runs", tool)
		}
	}
	bin := vigieBinary(t)
	h := newHost(t)
	tag := NewMarker("env-secret-")
	markers := []string{h.marker, tag}

	tricks := strings.Fields(string(run(t, 10*time.Second, "bash", h.script, "list")))
	first := freeUIDs(t, len(tricks))
	for i, trick := range tricks {
		name := "vh-" + trick
		if trick == "names" {
			if _, err := h.addAccount(trick, oddName, first+i, "--badname", "-c", oddGECOS); err == nil {
				continue
			} else {
				t.Logf("useradd refuses an odd name or GECOS here (%v): a plain one instead", err)
			}
		}
		if _, err := h.addAccount(trick, name, first+i); err != nil {
			t.Fatal(err)
		}
	}
	ep := newEndpoint(t)

	// Before the tricks: what this machine reports, and a harness that works.
	before := h.phase(bin, tag, ep, "before")
	if before.json.code != 1 {
		t.Fatalf("before any trick, %s", before.json)
	}
	if err := reportschema.Check(before.json.stdout); err != nil {
		t.Fatalf("before any trick, the report does not validate: %v", err)
	}
	beforeRep, err := ParseReport(before.json.stdout)
	if err != nil {
		t.Fatal(err)
	}
	if before.summaries == 0 || before.textfile == nil || before.posted == 0 {
		t.Fatalf("before any trick, the sinks got %d journal summaries, textfile %v, %d endpoint posts: the harness is broken\n%s",
			before.summaries, before.textfile != nil, before.posted, before.report)
	}
	if cb := ControlBytes(before.table.stdout); len(cb) > 0 {
		t.Errorf("before any trick, the table holds control bytes: %v", cb)
	}

	planted := tricks
	if only := os.Getenv("VIGIE_HOSTILE_TRICKS"); only != "" {
		planted = strings.Split(only, ",")
		t.Logf("planting only %v (VIGIE_HOSTILE_TRICKS)", planted)
	}
	for _, trick := range planted {
		if _, ok := h.accounts[trick]; !ok {
			t.Fatalf("VIGIE_HOSTILE_TRICKS: no trick %q (hostile-home.sh list: %v)", trick, tricks)
		}
		switch trick {
		case "secret":
			h.plant(trick, h.secret)
		case "rootdir":
			h.plant(trick, h.rootDir)
		default:
			h.plant(trick)
		}
	}
	escapes := h.accounts["escapes"]
	port := h.listen(escapes)

	after := h.phase(bin, tag, ep, "after")
	j := after.json
	// On a loaded machine the bound is twice the time before the tricks,
	// and a run over it is timed again (twice at most): a deadline hit or
	// a hang is over it every time, a busy moment is not.
	limit := max(wallBound, 2*before.json.wall)
	wall, runs := j.wall, 1
	for ; wall >= limit && runs < 3 && !j.timedOut; runs++ {
		wall = min(wall, h.vigie(bin, "", tag, "check", "--json", "--config", after.conf).wall)
	}
	t.Logf("vigie check --json: %s before the tricks, %s with them (fastest of %d, bound %s); peak RSS %d KiB before, %d KiB with them (bound %d KiB)",
		before.json.wall.Round(time.Millisecond), wall.Round(time.Millisecond), runs, limit, before.json.maxRSSKB, j.maxRSSKB, rssBound)
	if j.code != 1 {
		t.Errorf("%s", j)
	}
	if wall >= limit {
		t.Errorf("vigie check --json took %s with the tricks planted (fastest of %d), bound %s (2s, or twice the %s it took before on a loaded machine)",
			wall.Round(time.Millisecond), runs, limit, before.json.wall.Round(time.Millisecond))
	}
	if j.maxRSSKB >= rssBound {
		t.Errorf("vigie check --json peaked at %d KiB of RSS with the tricks planted, bound %d KiB", j.maxRSSKB, rssBound)
	}
	if err := reportschema.Check(j.stdout); err != nil {
		t.Errorf("the report does not validate: %v\nstart of stdout: %s", err, CatV(j.stdout[:min(len(j.stdout), 500)]))
	} else if rep, err := ParseReport(j.stdout); err != nil {
		t.Error(err)
	} else {
		exp := Expect{Checks: beforeRep.IDs(), Port: port}
		if slices.Contains(planted, "escapes") {
			exp.KeyFile = escapes.Home + "/.ssh/authorized_keys"
		}
		for _, p := range exp.Problems(rep) {
			t.Errorf("report: %s", p)
		}
	}
	if after.table.code != 1 {
		t.Errorf("%s", after.table)
	}
	if cb := ControlBytes(after.table.stdout); len(cb) > 0 {
		t.Errorf("the table holds control bytes (what cat -v shows as ^[ and M-^[):\n%s", strings.Join(cb, "\n"))
	}
	if after.summaries == 0 {
		t.Errorf("vigie report wrote no summary to the journal\n%s", after.report)
	}
	for _, e := range after.errs {
		t.Error(e)
	}
	for _, out := range after.outputs {
		for _, l := range Leaks(out.what, out.data, markers...) {
			t.Error(l)
		}
	}
}

// output is one place vigie wrote to.
type output struct {
	what string
	data []byte
}

// phase is what one round of runs produced.
type phase struct {
	conf                string
	json, table, report result
	summaries           int    // journal entries with VIGIE_SUMMARY=1
	textfile            []byte // nil when not written
	posted              int    // reports the endpoint received
	outputs             []output
	errs                []string
}

// phase runs check --json, check --verbose and report, with a state
// directory, a textfile and a journal stand-in of its own.
func (h *host) phase(bin, tag string, ep *endpoint, name string) phase {
	h.t.Helper()
	dir := filepath.Join(h.t.TempDir(), name)
	jdir := filepath.Join(dir, "journal")
	for _, d := range []string{jdir, filepath.Join(dir, "state"), filepath.Join(dir, "textfile")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			h.t.Fatal(err)
		}
	}
	conf := filepath.Join(dir, "vigie.yaml")
	body := fmt.Sprintf("state_dir: %s\nrun:\n  cycle_timeout: 45s\nreport:\n  journal: true\n  textfile: %s\n  endpoint:\n    url: %s/v1/reports\n    timeout: 5s\n",
		filepath.Join(dir, "state"), filepath.Join(dir, "textfile", "vigie.prom"), ep.srv.URL)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		h.t.Fatal(err)
	}
	p := phase{conf: conf}
	p.json = h.vigie(bin, "", tag, "check", "--json", "--config", conf)
	p.table = h.vigie(bin, "", tag, "check", "--verbose", "--config", conf)
	journal, err := ListenJournal(jdir)
	if err != nil {
		h.t.Fatal(err)
	}
	posted := len(ep.bodies())
	p.report = h.vigie(bin, jdir, tag, "report", "--config", conf)
	journal.Close()
	p.outputs = []output{
		{"the JSON report", p.json.stdout}, {"check --json's stderr", p.json.stderr},
		{"the table", p.table.stdout}, {"check's stderr", p.table.stderr},
		{"vigie report's output", p.report.stdout}, {"vigie report's stderr", p.report.stderr},
	}
	entries, errs := journal.Entries()
	p.errs = errs
	for i, e := range entries {
		fields, err := ParseEntry(e)
		if err != nil {
			p.errs = append(p.errs, fmt.Sprintf("journal entry %d: %v", i, err))
		}
		if fields["VIGIE_SUMMARY"] == "1" {
			p.summaries++
		}
		p.outputs = append(p.outputs, output{fmt.Sprintf("journal entry %d (%s)", i, fields["VIGIE_CHECK_ID"]), e})
	}
	if b, err := os.ReadFile(filepath.Join(dir, "textfile", "vigie.prom")); err == nil {
		p.textfile = b
		p.outputs = append(p.outputs, output{"the textfile", b})
	}
	_ = filepath.WalkDir(filepath.Join(dir, "state"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			b, _ := os.ReadFile(path)
			p.outputs = append(p.outputs, output{"state file " + path, gunzipped(b)})
		}
		return nil
	})
	got := ep.bodies()[posted:]
	p.posted = len(got)
	for i, b := range got {
		p.outputs = append(p.outputs, output{fmt.Sprintf("report %d posted to the endpoint", i), b})
	}
	return p
}

// gunzipped returns the raw bytes followed by their decompressed content
// when they are gzip (the spool keeps reports compressed).
func gunzipped(b []byte) []byte {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return b
	}
	plain, _ := io.ReadAll(io.LimitReader(zr, 256<<20))
	return append(append(b[:len(b):len(b)], '\n'), plain...)
}

// endpoint is a report receiver on loopback that keeps every body and
// answers 503 with a Retry-After past the cycle's deadline: each report
// reaches it once and then waits in the spool, where it is searched too.
type endpoint struct {
	srv *httptest.Server
	mu  sync.Mutex
	got [][]byte
}

func newEndpoint(t *testing.T) *endpoint {
	e := &endpoint{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 256<<20))
		e.mu.Lock()
		e.got = append(e.got, gunzipped(b))
		e.mu.Unlock()
		w.Header().Set("Retry-After", "3600")
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *endpoint) bodies() [][]byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([][]byte(nil), e.got...)
}
