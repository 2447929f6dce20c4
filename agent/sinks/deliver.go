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
}

func (d Outcome) String() string {
	if !d.Endpoint {
		return "no endpoint configured"
	}
	s := fmt.Sprintf("%d delivered, %d waiting in the spool", d.Delivered, d.Waiting)
	if d.Rejected > 0 {
		s += fmt.Sprintf(", %d rejected by the endpoint", d.Rejected)
	}
	return s
}

// Deliver sends a report to the configured sinks: the journal, the
// endpoint through the spool (older reports first), and the textfile.
// The report is spooled before any attempt, so a crash or an outage loses
// nothing.
func Deliver(ctx context.Context, cfg Config, stateDir, userAgent string, rep *report.Report, logf func(string)) (Outcome, error) {
	res := Outcome{Endpoint: cfg.Endpoint.URL != ""}
	var errs []error
	if cfg.Journal {
		if err := Journal(nil, rep); err != nil {
			errs = append(errs, err)
		}
	}
	// d is what the textfile says of delivery: the spool's depth as the
	// pass left it, and the last success.
	var d SpoolState
	if res.Endpoint {
		sp, err := spool.Open(filepath.Join(stateDir, "spool"), cfg.Spool.MaxReports, cfg.Spool.MaxBytes)
		if err != nil {
			return res, fmt.Errorf("spool: %w", err)
		}
		if d.Dropped, err = sp.TakeDropped(); err != nil {
			errs = append(errs, fmt.Errorf("spool: %w", err))
		}
		if d.Dropped > 0 {
			rep.Delivery = &report.Delivery{DroppedReports: d.Dropped}
		}
		body, err := json.Marshal(rep)
		if err != nil {
			return res, fmt.Errorf("encode report: %w", err)
		}
		if err := sp.Put(rep.ID, body); err != nil {
			if d.Dropped > 0 {
				err = fmt.Errorf("%w (and %d earlier dropped report(s) go unreported)", err, d.Dropped)
			}
			return res, fmt.Errorf("spool: %w", err)
		}
		e := cfg.Endpoint
		client, err := endpoint.New(endpoint.Config{URL: e.URL, TokenFile: e.TokenFile, CAFile: e.CAFile, CertFile: e.CertFile, KeyFile: e.KeyFile,
			Timeout: e.Timeout, UserAgent: userAgent, Warn: logf})
		if err != nil {
			errs = append(errs, fmt.Errorf("endpoint: %w", err))
			d.SpoolReports, d.SpoolBytes, _ = sp.Depth()
		} else {
			r, err := endpoint.Deliver(ctx, sp, client, logf)
			res.Delivered, res.Rejected, res.Waiting = r.Delivered, r.Rejected, r.Remaining
			d.SpoolReports, d.SpoolBytes = r.Remaining, r.RemainingBytes
			if r.Delivered > 0 {
				now := time.Now()
				if werr := atomicfile.Write(filepath.Join(stateDir, "last-delivery"), []byte(strconv.FormatInt(now.Unix(), 10)+"\n"), 0o600); werr == nil {
					d.LastSuccess = time.Unix(now.Unix(), 0)
				}
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("endpoint: %w (the report waits in the spool)", err))
			}
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
	return res, errors.Join(errs...)
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
