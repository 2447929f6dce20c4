package agent

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/vigie-agent/vigie/agent/config"
	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/internal/printable"
)

// Clock is the time the service loop waits on; tests drive a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Service is `vigie run`: a cycle at start, then every interval plus a
// random jitter (so a fleet booted together does not report together), at
// once on SIGHUP after reloading the configuration, and a clean stop on
// SIGTERM. systemd hears READY, RELOADING, STOPPING and the watchdog pings
// through sd_notify.
type Service struct {
	// Load reads and validates the configuration, at start and on SIGHUP.
	Load func() (config.Config, error)
	// Cycle checks, remediates what the configuration lists, and reports.
	Cycle   func(ctx context.Context, cfg config.Config) error
	Signals <-chan os.Signal
	// Notify sends an sd_notify state; daemon.SdNotify when nil.
	Notify func(state string) error
	Clock  Clock
	Rand   func() float64 // in [0, 1), for the jitter
	// Log hears what the service has to say, one line per event, its
	// values escaped (an error may quote a file name any user chose).
	Log func(line string)
	// Watchdog is WatchdogSec; 0 when systemd does not watch.
	Watchdog time.Duration
	// StopBudget is how long a running cycle gets to end after SIGTERM.
	StopBudget time.Duration
	// Pending says whether a spool still holds reports after a cycle, and
	// Flush delivers them; between cycles the service calls Flush after
	// FlushDelay while Pending holds, so a backlog reaches the receiver
	// minutes after it comes back, not at the next cycle. Both nil: no
	// delivery between cycles.
	Pending func(cfg config.Config) bool
	Flush   func(ctx context.Context, cfg config.Config) error
}

// Bounds of the wait between delivery attempts while reports wait.
const (
	FlushMin = 30 * time.Second
	FlushMax = 15 * time.Minute
)

// FlushDelay is the wait before the n-th delivery attempt (0 for the
// first) after a cycle left reports spooled: FlushMin doubling up to
// FlushMax, each wait drawn uniformly between half and all of it, so that
// a fleet cut off together does not come back in step. r is in [0, 1).
func FlushDelay(n int, r float64) time.Duration {
	d := FlushMin
	for i := 0; i < n && d < FlushMax; i++ {
		d *= 2
	}
	d = min(d, FlushMax)
	return d/2 + time.Duration(r*float64(d/2))
}

// NewService fills in the production defaults around load and cycle.
func NewService(load func() (config.Config, error), cycle func(context.Context, config.Config) error, signals <-chan os.Signal) *Service {
	wd, _ := daemon.SdWatchdogEnabled(false)
	return &Service{Load: load, Cycle: cycle, Signals: signals, Watchdog: wd}
}

func (s *Service) notify(state string) {
	var err error
	if s.Notify != nil {
		err = s.Notify(state)
	} else {
		_, err = daemon.SdNotify(false, state)
	}
	if err != nil {
		s.logf("sd_notify: %v", err)
	}
}

func (s *Service) logf(format string, args ...any) {
	if s.Log != nil {
		s.Log(printable.Line(fmt.Sprintf(format, args...), report.LogLineMax))
	}
}

// next is when the cycle after one that ended now starts.
func (s *Service) next(cfg config.Config) time.Duration {
	d := cfg.Run.Interval
	if cfg.Run.Jitter > 0 {
		r := s.Rand
		if r == nil {
			r = rand.Float64
		}
		d += time.Duration(r() * float64(cfg.Run.Jitter))
	}
	return d
}

// Run loops until SIGTERM, SIGINT or ctx ends. It returns an error only
// when the configuration cannot be loaded at start.
func (s *Service) Run(ctx context.Context) error {
	if s.Clock == nil {
		s.Clock = realClock{}
	}
	if s.StopBudget <= 0 {
		s.StopBudget = 20 * time.Second
		if s.Watchdog > 0 && s.Watchdog/2 < s.StopBudget {
			s.StopBudget = s.Watchdog / 2
		}
	}
	cfg, err := s.Load()
	if err != nil {
		return err
	}
	s.notify("READY=1\nSTATUS=starting the first check\nMAINPID=" + strconv.Itoa(os.Getpid()))

	var wdTick <-chan time.Time
	if s.Watchdog > 0 {
		wdTick = s.Clock.After(s.Watchdog / 2)
	}
	next := s.Clock.After(0)
	var (
		flush         <-chan time.Time
		flushes       int
		flushDone     chan error
		flushCancel   context.CancelFunc
		scheduleFlush = func(c config.Config) {
			flush = nil
			if s.Pending == nil || s.Flush == nil || !s.Pending(c) {
				flushes = 0
				return
			}
			r := s.Rand
			if r == nil {
				r = rand.Float64
			}
			flush = s.Clock.After(FlushDelay(flushes, r()))
			flushes++
		}
		done      chan error
		cancel    context.CancelFunc
		started   time.Time
		rerun     bool
		cycleCfg  config.Config
		cycleDone = func(err error) {
			if err != nil {
				s.logf("cycle: %v", err)
				// One line: sd_notify separates its assignments with newlines.
				s.notify("STATUS=last cycle failed: " + printable.Line(err.Error(), 200))
			} else {
				s.notify("STATUS=last cycle " + s.Clock.Now().UTC().Format(time.RFC3339) + ", next in about " + cfg.Run.Interval.String())
			}
			done, cancel = nil, nil
			flushes = 0
			scheduleFlush(cfg)
			if rerun {
				rerun = false
				next = s.Clock.After(0)
			} else {
				next = s.Clock.After(s.next(cfg))
			}
		}
	)
	stop := func() error {
		s.notify("STOPPING=1")
		// The cycle and a delivery between cycles are cancelled together
		// and share one budget, within systemd's stop timeout.
		if flushDone != nil {
			flushCancel()
		}
		if done != nil {
			cancel()
		}
		budget := s.Clock.After(s.StopBudget)
		for done != nil || flushDone != nil {
			select {
			case err := <-done:
				if err != nil {
					s.logf("cycle stopped: %v", err)
				}
				done = nil
			case <-flushDone:
				flushDone = nil
			case <-budget:
				s.logf("the running cycle did not end within %s; exiting anyway", s.StopBudget)
				return nil
			}
		}
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return stop()
		case sig := <-s.Signals:
			switch sig {
			case syscall.SIGHUP:
				s.notify("RELOADING=1")
				if c, err := s.Load(); err != nil {
					s.logf("reload: %v; keeping the running configuration", err)
				} else {
					cfg = c
				}
				s.notify("READY=1")
				if done != nil {
					rerun = true // after the running cycle, with the new configuration
				} else {
					next = s.Clock.After(0)
				}
			case syscall.SIGTERM, os.Interrupt:
				return stop()
			}
		case <-wdTick:
			// A cycle stuck past its deadline and the stop budget no longer
			// pings: systemd then restarts the service.
			if done == nil || s.Clock.Now().Sub(started) < cycleCfg.Run.CycleTimeout+s.StopBudget {
				s.notify("WATCHDOG=1")
			} else {
				s.logf("cycle running for %s: no watchdog ping", s.Clock.Now().Sub(started).Round(time.Second))
			}
			wdTick = s.Clock.After(s.Watchdog / 2)
		case <-next:
			next = nil
			cycleCfg, started = cfg, s.Clock.Now()
			var cctx context.Context
			cctx, cancel = context.WithTimeout(ctx, cfg.Run.CycleTimeout)
			done = make(chan error, 1)
			s.notify("STATUS=checking")
			go func(ctx context.Context, cancel context.CancelFunc, c config.Config, done chan<- error) {
				defer cancel()
				done <- s.Cycle(ctx, c)
			}(cctx, cancel, cycleCfg, done)
		case err := <-done:
			cycleDone(err)
		case <-flush:
			flush = nil
			if done != nil || flushDone != nil {
				break // a cycle delivers anyway, and reschedules
			}
			var fctx context.Context
			fctx, flushCancel = context.WithTimeout(ctx, cfg.Run.CycleTimeout)
			flushDone = make(chan error, 1)
			go func(ctx context.Context, cancel context.CancelFunc, c config.Config, done chan<- error) {
				defer cancel()
				done <- s.Flush(ctx, c)
			}(fctx, flushCancel, cfg, flushDone)
		case err := <-flushDone:
			flushDone, flushCancel = nil, nil
			if err != nil {
				s.logf("delivery of spooled reports: %v", err)
			}
			if done == nil {
				scheduleFlush(cfg)
			}
		}
	}
}

// runError says which part of a cycle failed.
func runError(part string, err error) error { return fmt.Errorf("%s: %w", part, err) }
