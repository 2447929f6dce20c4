// Package sinks delivers a report where a fleet reads it: the journal, a
// node_exporter textfile, and the HTTPS endpoint through the spool. Each
// knows the report as the model of agent/report, nothing of the areas.
package sinks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vigie-agent/vigie/agent/endpoint"
	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/agent/spool"
	"github.com/vigie-agent/vigie/internal/atomicfile"
	"github.com/vigie-agent/vigie/internal/printable"
)

// LogLine returns a logger that writes each message to w as one escaped,
// bounded line. What the service writes reaches the journal line by line,
// and its messages quote paths, names and errors from the host: a newline
// in one would forge an entry, an ESC sequence would reach the terminal of
// whoever reads the log.
func LogLine(w io.Writer) func(string) {
	return func(msg string) { fmt.Fprintln(w, printable.Line(msg, report.LogLineMax)) }
}

// Outcome says where one report went.
type Outcome struct {
	Endpoint  bool // an endpoint is configured
	Delivered int  // reports the endpoint accepted in this pass (older ones included)
	Rejected  int
	Waiting   int // reports still in the spool

	OTLP          bool // an OTLP collector is configured
	OTLPDelivered int  // requests (logs and metrics) the collector accepted in this pass
	OTLPWaiting   int  // requests still in its spools
	OTLPRejected  int
	// Changes is how many findings differ from the report before; Full
	// says the sinks in changes mode got the whole report.
	Changes int
	Full    bool
}

func (d Outcome) String() string {
	var parts []string
	if d.Endpoint {
		s := fmt.Sprintf("endpoint: %d delivered, %d waiting in the spool", d.Delivered, d.Waiting)
		if d.Rejected > 0 {
			s += fmt.Sprintf(", %d rejected by the endpoint", d.Rejected)
		}
		parts = append(parts, s)
	}
	if d.OTLP {
		s := fmt.Sprintf("otlp: %d delivered, %d waiting", d.OTLPDelivered, d.OTLPWaiting)
		if d.OTLPRejected > 0 {
			s += fmt.Sprintf(", %d rejected by the collector", d.OTLPRejected)
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "no endpoint configured"
	}
	return strings.Join(parts, "; ")
}

// Pending is how many reports or requests wait in the spools.
func (d Outcome) Pending() int { return d.Waiting + d.OTLPWaiting }

// Options say how one delivery goes.
type Options struct {
	// Full sends the whole report to the sinks in changes mode, whatever
	// FullEvery says: the service's first cycle, an operator's `vigie
	// report`.
	Full bool
}

// Deliver sends a report to the configured sinks: the journal, the
// endpoint and the OTLP collector through their spools (older reports
// first), and the textfile. A report is spooled before any attempt, so a
// crash or an outage loses nothing. Sinks in changes mode get what
// differs from the last report delivered, and the whole report at
// opt.Full or when FullEvery has passed.
func Deliver(ctx context.Context, cfg Config, stateDir, userAgent string, rep *report.Report, logf func(string), opt Options) (Outcome, error) {
	res := Outcome{Endpoint: cfg.Endpoint.URL != "", OTLP: cfg.OTLP.Enabled()}
	var errs []error
	prev := previous(stateDir)
	// A last full report in the future (a clock set back since) is no
	// reason to wait for it.
	since := rep.StartedAt.Sub(lastFull(stateDir))
	full := opt.Full || prev == nil || since < 0 || since >= cfg.FullEvery
	changes := report.Changes(prev, rep)
	res.Changes, res.Full = len(changes), full
	// lost: a sink in changes mode may have missed this report's changes;
	// the next report then goes whole to all of them.
	lost := false
	if cfg.Journal {
		var err error
		if cfg.JournalMode == ModeChanges && !full {
			err = JournalChanges(nil, rep, changes)
		} else {
			err = Journal(nil, rep)
		}
		if err != nil {
			errs = append(errs, err)
			lost = lost || cfg.JournalMode == ModeChanges
		}
	}
	// d is what the textfile says of delivery: the spools' depth as the
	// pass left them, and the last success.
	var d SpoolState
	delivered := false
	if res.Endpoint {
		r, dropped, err := deliverEndpoint(ctx, cfg, stateDir, userAgent, rep, logf)
		res.Delivered, res.Rejected, res.Waiting = r.Delivered, r.Rejected, r.Remaining
		d.SpoolReports, d.SpoolBytes, d.Dropped = r.Remaining, r.RemainingBytes, dropped
		delivered = r.Delivered > 0
		if err != nil {
			errs = append(errs, err)
		}
	}
	if res.OTLP {
		r, dropped, otlpLost, err := deliverOTLP(ctx, cfg, stateDir, userAgent, rep, changes, full, logf)
		lost = lost || otlpLost
		res.OTLPDelivered, res.OTLPRejected, res.OTLPWaiting = r.Delivered, r.Rejected, r.Remaining
		d.SpoolReports += r.Remaining
		d.SpoolBytes += r.RemainingBytes
		d.Dropped += dropped
		delivered = delivered || r.Delivered > 0
		if err != nil {
			errs = append(errs, err)
		}
	}
	if n, dirs := staleOTLPSpools(cfg, stateDir); n > 0 {
		d.SpoolReports += n
		if len(dirs) > 4 {
			dirs = append(dirs[:4], "...")
		}
		logf(fmt.Sprintf("otlp: %d report(s) wait for a destination no longer configured, in %s: kept, never sent; "+
			"configure that destination again to deliver them, or delete the directory", n, strings.Join(dirs, ", ")))
	}
	if delivered {
		now := time.Now()
		if werr := atomicfile.Write(filepath.Join(stateDir, "last-delivery"), []byte(strconv.FormatInt(now.Unix(), 10)+"\n"), 0o600); werr == nil {
			d.LastSuccess = time.Unix(now.Unix(), 0)
		}
	}
	if cfg.Textfile != "" {
		if d.LastSuccess.IsZero() {
			d.LastSuccess = lastDelivery(stateDir)
		}
		if err := WriteTextfile(cfg.Textfile, rep, d, TextfileSeries(cfg.TextfileSeries)); err != nil {
			errs = append(errs, err)
		}
	}
	// What the spools hold is what the sinks still owe: the next report
	// is compared with this one whatever reached a receiver.
	if err := remember(stateDir, rep, full, lost); err != nil {
		errs = append(errs, fmt.Errorf("keep the report for the next comparison: %w", err))
	}
	return res, errors.Join(errs...)
}

// deliverEndpoint spools the report for the HTTPS endpoint and delivers the
// spool.
func deliverEndpoint(ctx context.Context, cfg Config, stateDir, userAgent string, rep *report.Report, logf func(string)) (endpoint.Result, int, error) {
	var res endpoint.Result
	sp, err := spool.Open(filepath.Join(stateDir, "spool"), cfg.Spool.MaxReports, cfg.Spool.MaxBytes)
	if err != nil {
		return res, 0, fmt.Errorf("spool: %w", err)
	}
	var errs []error
	dropped, err := sp.TakeDropped()
	if err != nil {
		errs = append(errs, fmt.Errorf("spool: %w", err))
	}
	if dropped > 0 {
		rep.Delivery = &report.Delivery{DroppedReports: dropped}
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return res, dropped, fmt.Errorf("encode report: %w", err)
	}
	if err := sp.Put(rep.ID, body); err != nil {
		if dropped > 0 {
			err = fmt.Errorf("%w (and %d earlier dropped report(s) go unreported)", err, dropped)
		}
		return res, dropped, fmt.Errorf("spool: %w", err)
	}
	client, err := endpointClient(cfg.Endpoint, userAgent, logf)
	if err != nil {
		res.Remaining, res.RemainingBytes, _ = sp.Depth()
		return res, dropped, errors.Join(append(errs, fmt.Errorf("endpoint: %w", err))...)
	}
	defer client.Close()
	r, err := endpoint.Deliver(ctx, sp, client, logf)
	if err != nil {
		errs = append(errs, fmt.Errorf("endpoint: %w (the report waits in the spool)", err))
	}
	return r, dropped, errors.Join(errs...)
}

// endpointClient is the HTTPS endpoint's client as configured.
func endpointClient(e EndpointConfig, userAgent string, logf func(string)) (*endpoint.Client, error) {
	return endpoint.New(endpoint.Config{URL: e.URL, TokenFile: e.TokenFile, CAFile: e.CAFile, CertFile: e.CertFile, KeyFile: e.KeyFile,
		Timeout: e.Timeout, UserAgent: userAgent, Warn: logf})
}

func lastDelivery(stateDir string) time.Time {
	b, err := os.ReadFile(filepath.Join(stateDir, "last-delivery"))
	if err != nil {
		return time.Time{}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(n, 0)
}
