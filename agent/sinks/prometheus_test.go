package sinks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/agent/report/reporttest"
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/internal/testenv"
)

// The shipped rules and their promtool unit tests.
const (
	rulesFile     = "../../packaging/prometheus/vigie.rules.yml"
	rulesTestFile = "../../packaging/prometheus/vigie.rules.test.yml"
)

// TestTextfilePromtool: Prometheus' own linter finds nothing to say of the
// textfile in any mode, for real reports, the sample and hostile text.
func TestTextfilePromtool(t *testing.T) {
	testenv.Integration(t)
	testenv.Commands(t, "apt-get install prometheus", "promtool")
	reports := map[string]*report.Report{"sample": reporttest.Sample(), "baseline": fixture(t, "baseline"), "hds": fixture(t, "hds")}
	for _, tt := range reporttest.HostileText {
		reports["hostile "+tt.Name] = reporttest.Hostile(tt.In)
	}
	d := SpoolState{SpoolReports: 2, SpoolBytes: 8192, Dropped: 1, LastSuccess: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	for name, r := range reports {
		for _, mode := range TextfileSeriesModes {
			path := filepath.Join(t.TempDir(), "vigie.prom")
			if err := WriteTextfile(path, r, d, mode); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("promtool", "check", "metrics")
			cmd.Stdin = bytes.NewReader(b)
			if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
				t.Errorf("%s, %s: promtool check metrics: %v\n%s", name, mode, err, out)
			}
		}
	}
}

// TestPrometheusRules: promtool loads the shipped rules, and their unit
// tests pass.
func TestPrometheusRules(t *testing.T) {
	testenv.Integration(t)
	testenv.Commands(t, "apt-get install prometheus", "promtool")
	for _, args := range [][]string{{"check", "rules", rulesFile}, {"test", "rules", rulesTestFile}} {
		if out, err := exec.Command("promtool", args...).CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestPrometheusEndToEnd runs Debian's node_exporter on a textfile
// directory and Debian's Prometheus scraping it every second with the
// shipped rules, as a fleet would: a failing high check the real
// WriteTextfile wrote fires VigieCheckFailing, naming the check and the
// host; once it passes the alert goes; under summary the same failure
// fires VigieHostChecksFailing instead. About 30s: the first scrape waits
// for Prometheus' 5s refresh of its targets, and each alert fires after
// the rule's 10s for:.
func TestPrometheusEndToEnd(t *testing.T) {
	testenv.Integration(t)
	testenv.Commands(t, "apt-get install prometheus prometheus-node-exporter", "prometheus", "prometheus-node-exporter")
	start := time.Now()
	dir := t.TempDir()
	textdir := filepath.Join(dir, "textfile")
	textfile := filepath.Join(textdir, "vigie.prom")
	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	// The sample: ssh.password-auth (high) fails, patches.index-fresh
	// (medium) errors, which no rule pages for.
	rep := reporttest.Sample()
	write := func(mode TextfileSeries) {
		t.Helper()
		rep.StartedAt = time.Now()
		if err := WriteTextfile(textfile, rep, SpoolState{}, mode); err != nil {
			t.Fatal(err)
		}
	}
	write(SeriesAll)

	exporter := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	ne := startDaemon(t, dir, "prometheus-node-exporter", "--web.listen-address="+exporter,
		"--collector.disable-defaults", "--collector.textfile", "--collector.textfile.directory="+textdir)
	config := filepath.Join(dir, "prometheus.yml")
	body := fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [%q]\n"+
		"scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: [%q]\n", rules, exporter)
	if err := os.WriteFile(config, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	api := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	prom := startDaemon(t, dir, "prometheus", "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+api)
	daemons := []*daemon{ne, prom}

	failing := func(as []alert) bool {
		return len(as) == 1 && as[0].Labels["alertname"] == "VigieCheckFailing" && as[0].State == "firing"
	}
	as := waitAlerts(t, api, daemons, "VigieCheckFailing firing for ssh.password-auth alone", failing)
	want := map[string]string{"alertname": "VigieCheckFailing", "check": "ssh.password-auth", "area": "ssh", "severity": "high",
		"status": "fail", "instance": exporter, "job": "node"}
	if !maps.Equal(as[0].Labels, want) {
		t.Errorf("labels %v, want %v", as[0].Labels, want)
	}
	if s := as[0].Annotations["summary"]; s != "vigie: ssh.password-auth fail on "+exporter {
		t.Errorf("summary %q", s)
	}
	t.Logf("VigieCheckFailing firing %.1fs after the start", time.Since(start).Seconds())

	rep.Findings[0].Status = checks.Pass
	write(SeriesAll)
	waitAlerts(t, api, daemons, "no alert once the check passes", func(as []alert) bool { return len(as) == 0 })
	t.Logf("resolved %.1fs after the start", time.Since(start).Seconds())

	rep.Findings[0].Status = checks.Fail
	write(SeriesSummary)
	as = waitAlerts(t, api, daemons, "VigieHostChecksFailing firing alone under summary", func(as []alert) bool {
		return len(as) == 1 && as[0].Labels["alertname"] == "VigieHostChecksFailing" && as[0].State == "firing"
	})
	if as[0].Labels["instance"] != exporter || as[0].Value != "1e+00" {
		t.Errorf("VigieHostChecksFailing: %+v", as[0])
	}
	t.Logf("VigieHostChecksFailing firing %.1fs after the start", time.Since(start).Seconds())
}

// alert is one entry of Prometheus' /api/v1/alerts.
type alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	Value       string            `json:"value"`
}

// waitAlerts polls Prometheus' active alerts until done holds of them, for
// at most a minute.
func waitAlerts(t *testing.T, api string, daemons []*daemon, what string, done func([]alert) bool) []alert {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for {
		for _, d := range daemons {
			if d.exited() {
				t.Fatalf("%s exited while waiting for %s\n%s", d.name, what, tails(daemons))
			}
		}
		var got struct {
			Status string `json:"status"`
			Data   struct {
				Alerts []alert `json:"alerts"`
			} `json:"data"`
		}
		resp, err := client.Get("http://" + api + "/api/v1/alerts")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
		}
		if err == nil && got.Status == "success" {
			if done(got.Data.Alerts) {
				return got.Data.Alerts
			}
			b, _ := json.Marshal(got.Data.Alerts)
			last = string(b)
		} else {
			last = fmt.Sprintf("%v (status %q)", err, got.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 60s; last answer: %s\n%s", what, last, tails(daemons))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// daemon is a server the test runs, its stderr kept.
type daemon struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	log  bytes.Buffer
}

func (d *daemon) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.Write(p)
}

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// tail is the end of its output.
func (d *daemon) tail() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.log.Bytes()
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

func tails(ds []*daemon) string {
	var b strings.Builder
	for _, d := range ds {
		state := "running"
		if d.exited() {
			state = d.cmd.ProcessState.String()
		}
		fmt.Fprintf(&b, "--- %s (%s):\n%s\n", d.name, state, d.tail())
	}
	return b.String()
}

// startDaemon starts name with args in dir; it is stopped when the test
// ends (SIGTERM, then SIGKILL after 10s).
func startDaemon(t *testing.T, dir, name string, args ...string) *daemon {
	t.Helper()
	d := &daemon{name: name, cmd: exec.Command(name, args...), done: make(chan struct{})}
	d.cmd.Dir = dir
	d.cmd.Stdout, d.cmd.Stderr = d, d
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		_ = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(10 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	})
	return d
}
