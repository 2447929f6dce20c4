package agent

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/agent/config"
)

// fakeClock fires timers only when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), ch: ch})
	return ch
}

// Advance moves time and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(c.now) {
			t.ch <- c.now
			continue
		}
		kept = append(kept, t)
	}
	c.timers = kept
}

// pending lists the timers waiting, as durations from now.
func (c *fakeClock) pending() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Duration
	for _, t := range c.timers {
		out = append(out, t.at.Sub(c.now))
	}
	slices.Sort(out)
	return out
}

type harness struct {
	clock   *fakeClock
	signals chan os.Signal
	cycles  chan config.Config
	release chan error
	mu      sync.Mutex
	notes   []string
	logs    []string
	loads   int
	svc     *Service
	done    chan error
	cancel  context.CancelFunc
}

func newHarness(t *testing.T, watchdog time.Duration) *harness {
	t.Helper()
	return newHarnessWith(t, watchdog, nil)
}

// newHarnessWith lets a test complete the service before it runs.
func newHarnessWith(t *testing.T, watchdog time.Duration, with func(*Service)) *harness {
	t.Helper()
	h := &harness{clock: &fakeClock{now: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}, signals: make(chan os.Signal, 1),
		cycles: make(chan config.Config), release: make(chan error), done: make(chan error, 1)}
	cfg := config.Defaults()
	cfg.Run.Interval, cfg.Run.Jitter, cfg.Run.CycleTimeout = time.Hour, 10*time.Minute, 5*time.Minute
	h.svc = &Service{
		Load: func() (config.Config, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.loads++
			c := cfg
			c.Profile = "load-" + string(rune('0'+h.loads))
			return c, nil
		},
		Cycle: func(ctx context.Context, c config.Config) error {
			h.cycles <- c
			select {
			case err := <-h.release:
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		Signals:    h.signals,
		Clock:      h.clock,
		Rand:       func() float64 { return 0.5 },
		Watchdog:   watchdog,
		StopBudget: 10 * time.Second,
		Notify: func(s string) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.notes = append(h.notes, s)
			return nil
		},
		Log: func(line string) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.logs = append(h.logs, line)
		},
	}
	if with != nil {
		with(h.svc)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	t.Cleanup(cancel)
	go func() { h.done <- h.svc.Run(ctx) }()
	return h
}

func (h *harness) cycle(t *testing.T) config.Config {
	t.Helper()
	select {
	case c := <-h.cycles:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no cycle started")
	}
	return config.Config{}
}

func (h *harness) noCycle(t *testing.T) {
	t.Helper()
	select {
	case c := <-h.cycles:
		t.Fatalf("unexpected cycle (%s)", c.Profile)
	case <-time.After(100 * time.Millisecond):
	}
}

// settle waits until the loop has armed timers after a step.
func (h *harness) settle(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(h.clock.pending()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("timers %v, want %d", h.clock.pending(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *harness) notified() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.notes)
}

// TestServiceFailedCycleEscaped: a cycle's error quotes the host. It
// reaches the log as one escaped line, and sd_notify as one STATUS, which
// a newline would end, letting the rest set other variables.
func TestServiceFailedCycleEscaped(t *testing.T) {
	h := newHarness(t, 0)
	h.cycle(t)
	h.release <- errors.New("read /home/x\nMAINPID=1\x1b[2J: denied")
	h.settle(t, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	status := h.notes[len(h.notes)-1]
	if status != `STATUS=last cycle failed: read /home/x\nMAINPID=1\x1b[2J: denied` {
		t.Errorf("sd_notify got %q", status)
	}
	if len(h.logs) != 1 || h.logs[0] != `cycle: read /home/x\nMAINPID=1\x1b[2J: denied` {
		t.Errorf("log got %q", h.logs)
	}
}

func TestServiceIntervalAndJitter(t *testing.T) {
	h := newHarness(t, 0)
	h.cycle(t) // at start
	h.release <- nil
	h.settle(t, 1)
	if got := h.clock.pending(); got[0] != time.Hour+5*time.Minute {
		t.Fatalf("next cycle in %v, want 1h5m (interval + half the jitter)", got)
	}
	h.clock.Advance(time.Hour + 4*time.Minute)
	h.noCycle(t)
	h.clock.Advance(time.Minute)
	h.cycle(t)
	h.release <- nil
	h.signals <- syscall.SIGTERM
	if err := <-h.done; err != nil {
		t.Fatal(err)
	}
	n := h.notified()
	if !strings.HasPrefix(n[0], "READY=1") || n[len(n)-1] != "STOPPING=1" {
		t.Errorf("notifications %q", n)
	}
}

func TestServiceSIGHUP(t *testing.T) {
	h := newHarness(t, 0)
	if c := h.cycle(t); c.Profile != "load-1" {
		t.Fatalf("first cycle with %s", c.Profile)
	}
	h.release <- nil
	h.settle(t, 1)
	// Idle: SIGHUP reloads and checks at once.
	h.signals <- syscall.SIGHUP
	if c := h.cycle(t); c.Profile != "load-2" {
		t.Errorf("cycle after SIGHUP with %s, want the reloaded configuration", c.Profile)
	}
	// Busy: SIGHUP reloads, and one more cycle follows the running one.
	h.signals <- syscall.SIGHUP
	h.noCycle(t)
	h.release <- nil
	if c := h.cycle(t); c.Profile != "load-3" {
		t.Errorf("cycle after a SIGHUP during a cycle with %s", c.Profile)
	}
	h.release <- nil
	n := strings.Join(h.notified(), "|")
	if strings.Count(n, "RELOADING=1|READY=1") != 2 {
		t.Errorf("notifications %s", n)
	}
}

// TestServiceSIGTERMDuringCycle: the running cycle is cancelled and the
// service ends within the stop budget, even if the cycle ignores it.
func TestServiceSIGTERMDuringCycle(t *testing.T) {
	h := newHarness(t, 0)
	h.cycle(t)
	h.signals <- syscall.SIGTERM
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the service did not stop")
	}
	if n := h.notified(); n[len(n)-1] != "STOPPING=1" {
		t.Errorf("notifications %q", n)
	}
}

// TestServiceWatchdog: pings every half WatchdogSec, also during a cycle,
// but not once a cycle has overrun its deadline and the stop budget.
func TestServiceWatchdog(t *testing.T) {
	h := newHarness(t, 40*time.Second)
	h.cycle(t) // a cycle that never ends by itself
	pings := func() int { return strings.Count(strings.Join(h.notified(), "|"), "WATCHDOG=1") }
	for i := 1; i <= 3; i++ {
		h.settle(t, 1)
		h.clock.Advance(20 * time.Second)
		deadline := time.Now().Add(5 * time.Second)
		for pings() < i && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if pings() != i {
			t.Fatalf("%d pings after %d half-periods", pings(), i)
		}
	}
	// Past cycle_timeout (5m) + the stop budget (10s): no more pings.
	for range 20 {
		h.settle(t, 1)
		h.clock.Advance(20 * time.Second)
	}
	time.Sleep(50 * time.Millisecond)
	before := pings()
	h.settle(t, 1)
	h.clock.Advance(20 * time.Second)
	time.Sleep(50 * time.Millisecond)
	if pings() != before {
		t.Errorf("pinged while a cycle overran its deadline (%d -> %d)", before, pings())
	}
	h.cancel()
}

// TestServiceNotifySocket: the real sd_notify path, to a datagram socket
// standing in for systemd's.
func TestServiceNotifySocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	signals := make(chan os.Signal, 1)
	cycled := make(chan struct{}, 1)
	cfg := config.Defaults()
	svc := &Service{Load: func() (config.Config, error) { return cfg, nil }, Signals: signals,
		Cycle: func(context.Context, config.Config) error { cycled <- struct{}{}; return nil }}
	done := make(chan error, 1)
	go func() { done <- svc.Run(context.Background()) }()
	<-cycled
	signals <- syscall.SIGTERM
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var got []string
	buf := make([]byte, 4096)
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		n, err := conn.Read(buf)
		if err != nil {
			break
		}
		got = append(got, string(buf[:n]))
		if string(buf[:n]) == "STOPPING=1" {
			break
		}
	}
	all := strings.Join(got, "|")
	if !strings.HasPrefix(all, "READY=1\nSTATUS=") || !strings.HasSuffix(all, "STOPPING=1") || !strings.Contains(all, "STATUS=checking") {
		t.Errorf("sd_notify datagrams: %q", got)
	}
}

func TestFlushDelay(t *testing.T) {
	tests := []struct {
		n      int
		r      float64
		lo, hi time.Duration
	}{
		{0, 0, 15 * time.Second, 15 * time.Second},
		{0, 0.999, 15 * time.Second, 30 * time.Second},
		{1, 0.5, 45 * time.Second, 45 * time.Second},
		{5, 0.999, 7*time.Minute + 30*time.Second, 15 * time.Minute},
		{60, 0.999, 7*time.Minute + 30*time.Second, 15 * time.Minute}, // no overflow
	}
	for _, tt := range tests {
		if d := FlushDelay(tt.n, tt.r); d < tt.lo || d > tt.hi {
			t.Errorf("FlushDelay(%d, %v) = %s, want in [%s, %s]", tt.n, tt.r, d, tt.lo, tt.hi)
		}
	}
}

// TestServiceFlushesBetweenCycles: a cycle that leaves reports spooled
// (the receiver is down) gets delivery attempts between cycles, backing
// off, until the spool is empty; then none until the next cycle.
func TestServiceFlushesBetweenCycles(t *testing.T) {
	var (
		mu      sync.Mutex
		waiting = 1
		flushes = make(chan struct{}, 8)
	)
	h := newHarnessWith(t, 0, func(s *Service) {
		s.Pending = func(config.Config) bool { mu.Lock(); defer mu.Unlock(); return waiting > 0 }
		s.Flush = func(context.Context, config.Config) error {
			flushes <- struct{}{}
			return nil
		}
	})
	h.cycle(t)
	h.release <- nil
	h.settle(t, 2) // the next cycle and the first flush
	if p := h.clock.pending(); p[0] != FlushDelay(0, 0.5) {
		t.Fatalf("timers %v, want a flush after %s", p, FlushDelay(0, 0.5))
	}
	h.clock.Advance(FlushDelay(0, 0.5))
	<-flushes
	h.settle(t, 2) // still waiting: the second flush, later
	if p := h.clock.pending(); p[0] != FlushDelay(1, 0.5) {
		t.Fatalf("timers %v, want a flush after %s", p, FlushDelay(1, 0.5))
	}
	mu.Lock()
	waiting = 0
	mu.Unlock()
	h.clock.Advance(FlushDelay(1, 0.5))
	<-flushes
	time.Sleep(50 * time.Millisecond)
	if p := h.clock.pending(); len(p) != 1 {
		t.Fatalf("timers %v after the spool emptied, want the next cycle only", p)
	}
	h.noCycle(t)
}
