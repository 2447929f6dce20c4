// Package otelcoltest runs a real OpenTelemetry Collector for a test: the
// binary tools/otelcol builds (scripts/otelcol.sh, which make test passes as
// VIGIE_OTELCOL), with its OTLP receiver on HTTP only on a free loopback port
// and a file exporter per signal. What the receiver acknowledged is read back
// decoded with Logs and Metrics.
//
// The configuration has no batch processor and no sending queue: a 2xx from
// the receiver means the file exporter has taken the data. The exporter
// buffers and flushes every FlushInterval and on shutdown, so the output is
// complete after Stop; while the collector runs, WaitLogs and WaitMetrics
// wait for what a test has sent.
//
// Output: logs.jsonl and metrics.jsonl in the test's temporary directory, one
// OTLP/JSON LogsData or MetricsData object per line, appended to across
// Restart (the exporter's append: true), so every lifetime's output is read.
package otelcoltest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/internal/testenv"
	logsv1 "go.opentelemetry.io/proto/otlp/logs/v1"
	metricsv1 "go.opentelemetry.io/proto/otlp/metrics/v1"
)

// BinaryVar names the variable that holds the collector binary's path.
const BinaryVar = "VIGIE_OTELCOL"

const (
	// FlushInterval is the file exporter's flush_interval.
	FlushInterval = 50 * time.Millisecond
	// ReadyTimeout bounds Start and Restart: the collector must accept
	// connections and report itself ready within it.
	ReadyTimeout = 30 * time.Second
	// StopTimeout bounds Stop's wait after SIGTERM; then the collector is
	// killed and the test fails.
	StopTimeout = 15 * time.Second
	// WaitTimeout bounds WaitLogs and WaitMetrics.
	WaitTimeout = 10 * time.Second
	// readyLine is what the collector logs once every component started.
	readyLine = "Everything is ready. Begin running and processing data."
	// stderrTail is how much of the collector's stderr a failure shows.
	stderrTail = 4 << 10
)

type options struct {
	header, value     string
	certFile, keyFile string
}

// Option changes the collector's configuration.
type Option func(*options)

// WithHeader makes the receiver require header name with exactly value on
// every request (the bearertokenauth extension, with no scheme: for a bearer
// token pass "Authorization", "Bearer TOKEN"); others get 401.
func WithHeader(name, value string) Option {
	return func(o *options) { o.header, o.value = name, value }
}

// WithTLS makes the receiver serve HTTPS with the PEM certificate and key
// files given (SelfSignedCert makes a pair); Endpoint then says https.
func WithTLS(certFile, keyFile string) Option {
	return func(o *options) { o.certFile, o.keyFile = certFile, keyFile }
}

// Collector is a running (or stopped) collector of one test.
type Collector struct {
	t           testing.TB
	bin         string
	dir         string
	config      string
	port        int
	tls         bool
	stderr      string
	logsPath    string
	metricsPath string

	mu      sync.Mutex
	cmd     *exec.Cmd     // nil when stopped
	done    chan struct{} // closed when cmd has exited
	state   *os.ProcessState
	waitErr error
	cpu     time.Duration // of the lifetimes that ended
}

// Start writes the configuration, starts the collector and returns once it
// accepts connections. Without VIGIE_OTELCOL the test skips, or fails where
// every real component is required (testenv). Under -short it skips: this
// is an integration test. The collector is stopped when the test ends, and
// the end of its stderr logged if the test failed.
func Start(t testing.TB, opts ...Option) *Collector {
	t.Helper()
	testenv.Integration(t)
	bin := os.Getenv(BinaryVar)
	if bin == "" {
		testenv.Missing(t, "needs the test OpenTelemetry Collector: set %s to the path scripts/otelcol.sh prints (make test does)", BinaryVar)
	}
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("%s=%s is not an executable file (%v)", BinaryVar, bin, err)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if (o.certFile == "") != (o.keyFile == "") {
		t.Fatal("otelcoltest.WithTLS needs both a certificate and a key file")
	}
	dir := t.TempDir()
	c := &Collector{
		t:           t,
		bin:         bin,
		dir:         dir,
		config:      filepath.Join(dir, "config.yaml"),
		port:        testenv.FreePort(t),
		tls:         o.certFile != "",
		stderr:      filepath.Join(dir, "stderr.log"),
		logsPath:    filepath.Join(dir, "logs.jsonl"),
		metricsPath: filepath.Join(dir, "metrics.jsonl"),
	}
	if err := os.WriteFile(c.config, []byte(c.configYAML(o)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			t.Log(c.StderrTail())
		}
	})
	c.start()
	return c
}

// quote makes s a YAML double-quoted scalar that the collector's
// ${...} expansion leaves as it is.
func quote(s string) string {
	b, _ := json.Marshal(strings.ReplaceAll(s, "$", "$$"))
	return string(b)
}

func (c *Collector) configYAML(o options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: %s\n", quote(fmt.Sprintf("127.0.0.1:%d", c.port)))
	if c.tls {
		fmt.Fprintf(&b, "        tls:\n          cert_file: %s\n          key_file: %s\n", quote(o.certFile), quote(o.keyFile))
	}
	if o.header != "" {
		b.WriteString("        auth:\n          authenticator: bearertokenauth\n")
		// tokens, not token: the extension keeps only a single token's
		// first word.
		fmt.Fprintf(&b, "extensions:\n  bearertokenauth:\n    header: %s\n    scheme: \"\"\n    tokens: [%s]\n", quote(o.header), quote(o.value))
	}
	b.WriteString("exporters:\n")
	for _, e := range []struct{ name, path string }{{"logs", c.logsPath}, {"metrics", c.metricsPath}} {
		fmt.Fprintf(&b, "  file/%s:\n    path: %s\n    format: json\n    append: true\n    flush_interval: %s\n", e.name, quote(e.path), FlushInterval)
	}
	b.WriteString("service:\n")
	if o.header != "" {
		b.WriteString("  extensions: [bearertokenauth]\n")
	}
	// No internal metrics: they would listen on a fixed port.
	b.WriteString("  telemetry:\n    metrics:\n      level: none\n    logs:\n      level: info\n")
	b.WriteString("  pipelines:\n    logs:\n      receivers: [otlp]\n      exporters: [file/logs]\n")
	b.WriteString("    metrics:\n      receivers: [otlp]\n      exporters: [file/metrics]\n")
	return b.String()
}

// start runs one lifetime of the collector and waits until it is ready.
func (c *Collector) start() {
	c.t.Helper()
	errf, err := os.OpenFile(c.stderr, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	defer errf.Close()
	fi, err := errf.Stat()
	if err != nil {
		c.t.Fatal(err)
	}
	from := fi.Size()
	cmd := exec.Command(c.bin, "--config=file:"+c.config)
	cmd.Dir = c.dir
	cmd.Stdout = errf
	cmd.Stderr = errf
	// Killed with the test binary, should that die first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", c.bin, err)
	}
	done := make(chan struct{})
	c.mu.Lock()
	c.cmd, c.done, c.state, c.waitErr = cmd, done, nil, nil
	c.mu.Unlock()
	go func() {
		err := cmd.Wait()
		c.mu.Lock()
		c.state, c.waitErr = cmd.ProcessState, err
		c.mu.Unlock()
		close(done)
	}()

	deadline := time.Now().Add(ReadyTimeout)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port))
	for {
		select {
		case <-done:
			c.mu.Lock()
			err := c.waitErr
			c.cmd = nil
			c.cpu += cpuOf(c.state)
			c.mu.Unlock()
			c.t.Fatalf("collector exited before it was ready: %v\n%s", err, c.StderrTail())
		default:
		}
		if c.readySince(from) {
			if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				conn.Close()
				return
			}
		}
		if time.Now().After(deadline) {
			c.kill()
			c.t.Fatalf("collector not ready on %s after %s\n%s", addr, ReadyTimeout, c.StderrTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readySince reports whether the collector's stderr says it is ready past
// offset from (this lifetime's start).
func (c *Collector) readySince(from int64) bool {
	b, err := os.ReadFile(c.stderr)
	if err != nil || int64(len(b)) < from {
		return false
	}
	return bytes.Contains(b[from:], []byte(readyLine))
}

// kill ends the current lifetime at once.
func (c *Collector) kill() {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
	c.mu.Lock()
	c.cmd = nil
	c.cpu += cpuOf(c.state)
	c.mu.Unlock()
}

// Stop sends SIGTERM and waits for the collector to exit, at most
// StopTimeout (then it kills it and fails the test). The output files are
// complete once it returns. A collector that had exited by itself, or that
// exits with a status other than 0, fails the test. Stopping a stopped
// collector does nothing.
func (c *Collector) Stop() {
	c.t.Helper()
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	pid := cmd.Process.Pid
	byItself, killed := false, false
	select {
	case <-done:
		byItself = true
	default:
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(StopTimeout):
			_ = cmd.Process.Kill()
			<-done
			killed = true
		}
	}
	c.mu.Lock()
	err := c.waitErr
	c.cmd = nil
	c.cpu += cpuOf(c.state)
	c.mu.Unlock()
	switch {
	case byItself:
		c.t.Errorf("collector (pid %d) had exited by itself: %v\n%s", pid, err, c.StderrTail())
	case killed:
		c.t.Errorf("collector (pid %d) still running %s after SIGTERM: killed, its output may be incomplete\n%s", pid, StopTimeout, c.StderrTail())
	case err != nil:
		c.t.Errorf("collector (pid %d) after SIGTERM: %v\n%s", pid, err, c.StderrTail())
	}
}

// Restart stops the collector and starts it again on the same port with
// the same output files, returning once it is ready.
func (c *Collector) Restart() {
	c.t.Helper()
	c.Stop()
	c.start()
}

// Endpoint is the receiver's base URL, http://127.0.0.1:PORT (https with
// WithTLS); the signals are at /v1/logs and /v1/metrics.
func (c *Collector) Endpoint() string {
	scheme := "http"
	if c.tls {
		scheme = "https"
	}
	return fmt.Sprintf("%s://127.0.0.1:%d", scheme, c.port)
}

// PID is the running collector's process id, 0 when it is stopped.
func (c *Collector) PID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// CPU is the collector's user and system CPU time over all its lifetimes:
// /proc/PID/stat's utime and stime for the running one, and the kernel's
// account of each that ended (what wait4 reports: the same counters, final).
func (c *Collector) CPU() time.Duration {
	c.t.Helper()
	c.mu.Lock()
	total := c.cpu
	var pid int
	switch {
	case c.cmd != nil && c.state == nil:
		pid = c.cmd.Process.Pid
	case c.cmd != nil:
		total += cpuOf(c.state) // exited, Stop not called yet
	}
	c.mu.Unlock()
	if pid != 0 {
		d, err := procCPU(pid)
		if err != nil {
			c.t.Fatalf("collector CPU time: %v", err)
		}
		total += d
	}
	return total
}

func cpuOf(s *os.ProcessState) time.Duration {
	if s == nil {
		return 0
	}
	return s.UserTime() + s.SystemTime()
}

// clockTick is the unit of /proc/PID/stat's times: USER_HZ, 100 on Linux.
const clockTick = 10 * time.Millisecond

// procCPU reads utime and stime (fields 14 and 15) of /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

func parseStatCPU(stat string) (time.Duration, error) {
	// The command name, field 2, is in parentheses and may hold spaces and
	// parentheses: the fields that follow start after the last ')'.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state): utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed stat %q", stat)
	}
	var total time.Duration
	for _, s := range f[11:13] {
		n, err := strconv.ParseUint(s, 10, 63)
		if err != nil {
			return 0, fmt.Errorf("malformed stat %q: %v", stat, err)
		}
		total += time.Duration(n) * clockTick
	}
	return total, nil
}

// running reports whether a lifetime is under way.
func (c *Collector) running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cmd != nil
}

// StderrTail is the end of the collector's stderr over all its lifetimes.
func (c *Collector) StderrTail() string {
	b, err := os.ReadFile(c.stderr)
	if err != nil {
		return fmt.Sprintf("(collector stderr: %v)", err)
	}
	if len(b) > stderrTail {
		b = b[len(b)-stderrTail:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return "collector stderr (" + c.stderr + "):\n" + string(b)
}

// Logs decodes every line of the logs output, in the order received.
func (c *Collector) Logs() []*logsv1.ResourceLogs {
	c.t.Helper()
	running := c.running()
	b, err := readOutput(c.logsPath)
	if err != nil {
		c.t.Fatal(err)
	}
	out, err := decodeLogs(b, running)
	if err != nil {
		c.t.Fatalf("%s: %v", c.logsPath, err)
	}
	return out
}

// Metrics decodes every line of the metrics output, in the order received.
func (c *Collector) Metrics() []*metricsv1.ResourceMetrics {
	c.t.Helper()
	running := c.running()
	b, err := readOutput(c.metricsPath)
	if err != nil {
		c.t.Fatal(err)
	}
	out, err := decodeMetrics(b, running)
	if err != nil {
		c.t.Fatalf("%s: %v", c.metricsPath, err)
	}
	return out
}

// WaitLogs waits until the logs output holds at least n log records, at
// most WaitTimeout (then the test fails), and returns Logs.
func (c *Collector) WaitLogs(n int) []*logsv1.ResourceLogs {
	c.t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for {
		rl := c.Logs()
		got := CountLogRecords(rl)
		if got >= n {
			return rl
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%d log records after %s, want %d\n%s", got, WaitTimeout, n, c.StderrTail())
		}
		time.Sleep(FlushInterval / 2)
	}
}

// WaitMetrics waits until the metrics output holds at least n data points,
// at most WaitTimeout (then the test fails), and returns Metrics.
func (c *Collector) WaitMetrics(n int) []*metricsv1.ResourceMetrics {
	c.t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for {
		rm := c.Metrics()
		got := CountDataPoints(rm)
		if got >= n {
			return rm
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%d data points after %s, want %d\n%s", got, WaitTimeout, n, c.StderrTail())
		}
		time.Sleep(FlushInterval / 2)
	}
}

// readOutput reads an output file; one not written yet is empty.
func readOutput(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}
