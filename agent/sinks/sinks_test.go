package sinks

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/agent/report/reporttest"
)

type entry struct {
	msg  string
	prio journal.Priority
	vars map[string]string
}

func TestJournal(t *testing.T) {
	var got []entry
	send := func(msg string, p journal.Priority, vars map[string]string) error {
		got = append(got, entry{msg, p, vars})
		return nil
	}
	if err := Journal(send, reporttest.Sample()); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d entries, want the fail, the error and a summary: %+v", len(got), got)
	}
	fail, errEntry, sum := got[0], got[1], got[2]
	if fail.prio != journal.PriErr || fail.vars["VIGIE_CHECK_ID"] != "ssh.password-auth" || fail.vars["VIGIE_STATUS"] != "fail" ||
		fail.vars["VIGIE_SEVERITY"] != "high" || fail.vars["VIGIE_AREA"] != "ssh" || fail.vars["SYSLOG_IDENTIFIER"] != "vigie" ||
		fail.vars["VIGIE_REPORT_ID"] != "0123456789abcdef0123456789abcdef" || !strings.Contains(fail.msg, "passwordauthentication is yes") {
		t.Errorf("failing finding: %+v", fail)
	}
	if errEntry.vars["VIGIE_STATUS"] != "error" || errEntry.prio != journal.PriWarning {
		t.Errorf("error finding: %+v", errEntry)
	}
	if sum.vars["VIGIE_SUMMARY"] != "1" || sum.vars["VIGIE_FAIL"] != "1" || sum.vars["VIGIE_ERROR"] != "1" || sum.prio != journal.PriNotice ||
		sum.msg != "4 checks: 1 pass, 1 fail, 1 error, 1 skip (profile baseline, 1500 ms)" {
		t.Errorf("summary: %+v", sum)
	}
	// Field names journald accepts: upper case, digits, underscores.
	for _, e := range got {
		for k := range e.vars {
			if strings.Trim(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" || k[0] == '_' {
				t.Errorf("field %q is not a valid journal field name", k)
			}
		}
	}
}

// TestJournalEscapesHostText: the message and every field of an entry are
// one bounded line, the host's text visible in it, escaped.
func TestJournalEscapesHostText(t *testing.T) {
	for _, tt := range reporttest.HostileText {
		var got []entry
		send := func(msg string, p journal.Priority, vars map[string]string) error {
			got = append(got, entry{msg, p, vars})
			return nil
		}
		if err := Journal(send, reporttest.Hostile(tt.In)); err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("%s: %d entries", tt.Name, len(got))
		}
		for _, e := range got {
			reporttest.CheckPrintable(t, tt.Name+": MESSAGE", e.msg, false, 2*journalFieldMax+journalReasonMax+4)
			for k, v := range e.vars {
				reporttest.CheckPrintable(t, tt.Name+": "+k, v, false, journalFieldMax)
			}
		}
		if !strings.Contains(got[0].msg, tt.Shows) || !strings.Contains(got[0].vars["VIGIE_CHECK_ID"], tt.Shows[:min(len(tt.Shows), 20)]) {
			t.Errorf("%s: the entry does not show %q: %.200q %.200q", tt.Name, tt.Shows, got[0].msg, got[0].vars["VIGIE_CHECK_ID"])
		}
	}
}

// TestTextfileEscapesHostText: the file parses, and every label value is a
// bounded, escaped line. Raw, a value that is not UTF-8 would make
// client_golang panic.
func TestTextfileEscapesHostText(t *testing.T) {
	for _, tt := range reporttest.HostileText {
		path := filepath.Join(t.TempDir(), "vigie.prom")
		if err := WriteTextfile(path, reporttest.Hostile(tt.In), SpoolState{}, SeriesAll); err != nil {
			t.Fatalf("%s: %v", tt.Name, err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		reporttest.CheckPrintable(t, tt.Name+": textfile", string(b), true, 4*labelMax+200)
		p := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := p.TextToMetricFamilies(strings.NewReader(string(b)))
		if err != nil {
			t.Fatalf("%s: node_exporter would not read it: %v", tt.Name, err)
		}
		seen := false
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					reporttest.CheckPrintable(t, tt.Name+": label "+l.GetName(), l.GetValue(), false, labelMax)
					seen = seen || l.GetName() == "check" && strings.HasPrefix(l.GetValue(), "ssh."+tt.Shows[:min(len(tt.Shows), 20)])
				}
			}
		}
		if !seen {
			t.Errorf("%s: no check label shows %q", tt.Name, tt.Shows)
		}
	}
}

func TestWriteTextfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node-exporter", "vigie.prom")
	last := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	if err := WriteTextfile(path, reporttest.Sample(), SpoolState{SpoolReports: 3, SpoolBytes: 4096, Dropped: 2, LastSuccess: last}, SeriesAll); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Parsed with Prometheus' own parser, as node_exporter does.
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("node_exporter would not read it: %v", err)
	}
	value := func(name string, labels map[string]string) (float64, bool) {
		mf, ok := mfs[name]
		if !ok {
			return 0, false
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			return m.GetGauge().GetValue(), true
		}
		return 0, false
	}
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"vigie_check_status", map[string]string{"check": "ssh.password-auth", "area": "ssh", "severity": "high", "status": "fail"}, 1},
		{"vigie_check_status", map[string]string{"check": "disks.block-encrypted", "status": "skip"}, 1},
		{"vigie_checks_failing", map[string]string{"severity": "high"}, 1},
		{"vigie_checks_failing", map[string]string{"severity": "medium"}, 1}, // the error counts
		{"vigie_checks_failing", map[string]string{"severity": "critical"}, 0},
		{"vigie_last_run_timestamp_seconds", nil, float64(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC).Unix())},
		{"vigie_last_run_duration_seconds", nil, 1.5},
		{"vigie_spool_reports", nil, 3},
		{"vigie_spool_bytes", nil, 4096},
		{"vigie_spool_dropped_reports", nil, 2},
		{"vigie_last_delivery_timestamp_seconds", nil, float64(last.Unix())},
		{"vigie_info", map[string]string{"version": "1.2.3", "profile": "baseline"}, 1},
	}
	for _, tt := range tests {
		if got, ok := value(tt.name, tt.labels); !ok || got != tt.want {
			t.Errorf("%s%v = %v (found %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	if _, ok := value("vigie_check_status", map[string]string{"check": "ssh.password-auth", "status": "pass"}); ok {
		t.Error("a check has a series for a status it does not have")
	}
	for name := range mfs {
		if !model.LegacyValidation.IsValidMetricName(name) {
			t.Errorf("invalid metric name %q", name)
		}
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v: node_exporter runs unprivileged and must read it", st.Mode())
	}
}

// TestWriteTextfileUmask: under the unit's UMask=0077 the directories the
// textfile needs are still made 0755, and one that exists keeps its mode.
func TestWriteTextfileUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	root := t.TempDir()
	kept := filepath.Join(root, "kept")
	if err := os.Mkdir(kept, 0o750); err != nil || os.Chmod(kept, 0o750) != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(root, "prometheus", "node-exporter", "vigie.prom"), filepath.Join(kept, "vigie.prom")} {
		if err := WriteTextfile(path, reporttest.Sample(), SpoolState{}, SeriesAll); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
			t.Errorf("%s: %v %v, want mode 0644", path, st.Mode(), err)
		}
	}
	for dir, want := range map[string]os.FileMode{filepath.Join(root, "prometheus"): 0o755, filepath.Join(root, "prometheus", "node-exporter"): 0o755, kept: 0o750} {
		if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want mode %v", dir, st.Mode(), err, want)
		}
	}
	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteTextfile(filepath.Join(file, "vigie.prom"), reporttest.Sample(), SpoolState{}, SeriesAll); err == nil {
		t.Error("a textfile under a regular file was written")
	}
}

// TestDeliverThroughOutage: reports made while the endpoint is down wait in
// the spool; when it is back, the next delivery sends every one of them,
// oldest first, once, with the textfile telling the spool's depth.
func TestDeliverThroughOutage(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, "gzip", http.StatusBadRequest)
			return
		}
		var rep report.Report
		if err := json.NewDecoder(zr).Decode(&rep); err != nil || rep.ID != r.Header.Get("Idempotency-Key") {
			http.Error(w, "report", http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, rep.ID)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close() // a port nobody listens on: connection refused

	cfg := DefaultConfig()
	stateDir := t.TempDir()
	cfg.Journal = false
	cfg.Textfile = filepath.Join(t.TempDir(), "vigie.prom")
	var made []string
	deliver := func(url string) Outcome {
		t.Helper()
		cfg.Endpoint.URL = url
		rep := reporttest.Sample()
		rep.ID = report.NewID()
		made = append(made, rep.ID)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		res, _ := Deliver(ctx, cfg, stateDir, "vigie/test", rep, func(string) {}, Options{})
		return res
	}
	if res := deliver(srv.URL); res.Delivered != 1 || res.Waiting != 0 {
		t.Fatalf("endpoint up: %+v", res)
	}
	for i := 1; i <= 3; i++ {
		if res := deliver(downURL); res.Delivered != 0 || res.Waiting != i {
			t.Fatalf("endpoint down, pass %d: %+v", i, res)
		}
	}
	prom, _ := os.ReadFile(cfg.Textfile)
	if !strings.Contains(string(prom), "vigie_spool_reports 3\n") {
		t.Errorf("textfile during the outage:\n%s", prom)
	}
	if res := deliver(srv.URL); res.Delivered != 4 || res.Waiting != 0 {
		t.Fatalf("endpoint back: %+v", res)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ",") != strings.Join(made, ",") {
		t.Errorf("received %v, made %v: every report once, in order", got, made)
	}
	prom, _ = os.ReadFile(cfg.Textfile)
	if !strings.Contains(string(prom), "vigie_spool_reports 0\n") || !strings.Contains(string(prom), "vigie_last_delivery_timestamp_seconds") {
		t.Errorf("textfile after the outage:\n%s", prom)
	}
}

// TestLogLine: one message, one line, whatever it quotes.
func TestLogLine(t *testing.T) {
	for _, tt := range reporttest.HostileText {
		var b strings.Builder
		LogLine(&b)("read " + tt.In + ": permission denied")
		out := b.String()
		if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
			t.Errorf("%s: %d newlines in %.80q", tt.Name, strings.Count(out, "\n"), out)
		}
		reporttest.CheckPrintable(t, tt.Name, out, true, report.LogLineMax)
		if !strings.Contains(out, tt.Shows) {
			t.Errorf("%s: %.80q does not show %q", tt.Name, out, tt.Shows)
		}
	}
}
