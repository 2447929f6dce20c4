package sinks

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vigie-agent/vigie/agent/endpoint"
	"github.com/vigie-agent/vigie/agent/otlp"
	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/agent/spool"
	"github.com/vigie-agent/vigie/checks"
)

// OTLPSpoolDir is where a signal's requests wait: each signal has its own
// queue, so a collector that took the logs and not the metrics is sent
// only the metrics again; and each destination (its URL and the headers
// that pick a tenant) its own, so a backlog never goes to a collector or
// a tenant configured since.
func OTLPSpoolDir(stateDir string, s otlp.Signal, cfg OTLPConfig) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", cfg.URL(string(s)))
	// Header names are case-insensitive: X-Scope-OrgID and x-scope-orgid
	// pick the same tenant.
	headers := make(map[string]string, len(cfg.Headers))
	for k, v := range cfg.Headers {
		headers[strings.ToLower(k)] = v
	}
	keys := make([]string, 0, len(headers))
	for k := range headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%s: %s\n", k, headers[k])
	}
	return filepath.Join(stateDir, otlpSpools, fmt.Sprintf("%s-%x", s, h.Sum(nil)[:6]))
}

// otlpSpools holds the OTLP spools, one per signal and destination.
const otlpSpools = "spool-otlp"

// staleOTLPSpools counts the reports that wait in the spools of a
// destination no longer configured (another URL, another tenant, OTLP
// turned off): they are never sent, so the textfile counts them and the
// cycle says where they are, rather than leaving them to be forgotten.
func staleOTLPSpools(cfg Config, stateDir string) (reports int, dirs []string) {
	root := filepath.Join(stateDir, otlpSpools)
	es, err := os.ReadDir(root)
	if err != nil {
		return 0, nil
	}
	current := map[string]bool{}
	for _, s := range []otlp.Signal{otlp.SignalLogs, otlp.SignalMetrics} {
		if cfg.OTLP.Enabled() && cfg.OTLP.URL(string(s)) != "" {
			current[OTLPSpoolDir(stateDir, s, cfg.OTLP)] = true
		}
	}
	for _, e := range es {
		p := filepath.Join(root, e.Name())
		if !e.IsDir() || current[p] {
			continue
		}
		if n, err := spool.Count(p); err == nil && n > 0 {
			reports += n
			dirs = append(dirs, p)
		}
	}
	return reports, dirs
}

// otlpSender builds the sender of one signal, or nil when the signal has
// no URL.
func otlpSender(cfg OTLPConfig, s otlp.Signal, userAgent string, logf func(string)) (*otlp.Sender, error) {
	url := cfg.URL(string(s))
	if url == "" {
		return nil, nil
	}
	c, err := endpoint.New(endpoint.Config{URL: url, CAFile: cfg.CAFile, CertFile: cfg.CertFile, KeyFile: cfg.KeyFile,
		Timeout: cfg.Timeout, UserAgent: userAgent, Warn: logf, ContentType: otlp.ContentType,
		Headers: cfg.Headers, HeaderFiles: cfg.HeaderFiles,
		Accepted: func(contentType string, body []byte) {
			if !strings.HasPrefix(contentType, otlp.ContentType) {
				return // a proxy's page, or JSON: not the protocol's answer
			}
			if n, msg := otlp.PartialSuccess(body); n > 0 || msg != "" {
				logf(fmt.Sprintf("otlp %s: the collector kept the request but rejected %d item(s): %s", s, n, msg))
			}
		}})
	if err != nil {
		return nil, fmt.Errorf("otlp %s: %w", s, err)
	}
	return &otlp.Sender{Signal: s, Client: c}, nil
}

// metricsOnly is the part of a report the metrics need: the header, the
// summary and each finding's id, severity and status. It keeps the
// metrics queue small.
func metricsOnly(rep *report.Report) *report.Report {
	m := *rep
	m.Findings = make([]checks.Finding, len(rep.Findings))
	for i, f := range rep.Findings {
		m.Findings[i] = checks.Finding{Meta: checks.Meta{ID: f.ID, Severity: f.Severity}, Status: f.Status, Evidence: []checks.Evidence{}, Waived: f.Waived}
	}
	return &m
}

// deliverOTLP spools this report's requests, the log records (the whole
// report, or its changes: none when nothing changed) and the metrics, and
// delivers both queues. It returns the sum over the signals.
//
// lost says the log records of a change may not reach the collector (its
// spool dropped batches, or this one could not be spooled): the next
// report must then go whole, or the receiver would miss a change for good.
func deliverOTLP(ctx context.Context, cfg Config, stateDir, userAgent string, rep *report.Report, changes []report.Change, full bool, logf func(string)) (total endpoint.Result, dropped int, lost bool, _ error) {
	var errs []error
	for _, s := range []otlp.Signal{otlp.SignalLogs, otlp.SignalMetrics} {
		if cfg.OTLP.URL(string(s)) == "" {
			continue
		}
		sp, err := spool.Open(OTLPSpoolDir(stateDir, s, cfg.OTLP), cfg.Spool.MaxReports, cfg.Spool.MaxBytes)
		if err != nil {
			errs = append(errs, fmt.Errorf("otlp %s spool: %w", s, err))
			lost = lost || s == otlp.SignalLogs
			continue
		}
		n, err := sp.TakeDropped()
		if err != nil {
			errs = append(errs, fmt.Errorf("otlp %s spool: %w", s, err))
		}
		dropped += n
		var body any
		switch s {
		case otlp.SignalLogs:
			r := *rep // its Delivery is this queue's
			r.Delivery = nil
			b := &otlp.Batch{Kind: otlp.KindFull, Report: &r, Changes: changes}
			// After a drop the receiver has lost some change: this batch
			// is whole, its baseline.
			if cfg.OTLP.Mode == ModeChanges && !full && n == 0 {
				r.Findings = nil
				b.Kind = otlp.KindChanges
			}
			if n > 0 {
				b.Report.Delivery = &report.Delivery{DroppedReports: n}
			}
			if b.Kind == otlp.KindFull || len(b.Changes) > 0 {
				body = b
			}
		case otlp.SignalMetrics:
			m := metricsOnly(rep)
			m.Delivery = nil
			if n > 0 {
				m.Delivery = &report.Delivery{DroppedReports: n}
			}
			body = m
		}
		if body != nil {
			js, err := json.Marshal(body)
			if err != nil {
				errs = append(errs, fmt.Errorf("otlp %s: encode: %w", s, err))
				continue
			}
			if err := sp.Put(rep.ID, js); err != nil {
				errs = append(errs, fmt.Errorf("otlp %s spool: %w", s, err))
				lost = lost || s == otlp.SignalLogs
			}
		}
		r, err := deliverSpool(ctx, cfg.OTLP, sp, s, userAgent, logf)
		total.Delivered += r.Delivered
		total.Rejected += r.Rejected
		total.Remaining += r.Remaining
		total.RemainingBytes += r.RemainingBytes
		if err != nil {
			errs = append(errs, err)
		}
	}
	return total, dropped, lost, errors.Join(errs...)
}

func deliverSpool(ctx context.Context, cfg OTLPConfig, sp *spool.Spool, s otlp.Signal, userAgent string, logf func(string)) (endpoint.Result, error) {
	sender, err := otlpSender(cfg, s, userAgent, logf)
	if err != nil {
		var r endpoint.Result
		r.Remaining, r.RemainingBytes, _ = sp.Depth()
		return r, err
	}
	defer sender.Client.Close()
	r, err := endpoint.Deliver(ctx, sp, sender, logf)
	if err != nil {
		err = fmt.Errorf("otlp %s: %w (waiting in the spool)", s, err)
	}
	return r, err
}

// Flush delivers what the spools hold from earlier cycles, without a new
// report: the service calls it between cycles while something waits, so
// a backlog reaches the receiver soon after it comes back rather than at
// the next cycle. It returns what still waits.
func Flush(ctx context.Context, cfg Config, stateDir, userAgent string, logf func(string)) (Outcome, error) {
	res := Outcome{Endpoint: cfg.Endpoint.URL != "", OTLP: cfg.OTLP.Enabled()}
	var errs []error
	if res.Endpoint {
		sp, err := spool.Open(filepath.Join(stateDir, "spool"), cfg.Spool.MaxReports, cfg.Spool.MaxBytes)
		if err != nil {
			return res, fmt.Errorf("spool: %w", err)
		}
		if files, _, _ := sp.Depth(); files > 0 {
			client, err := endpointClient(cfg.Endpoint, userAgent, logf)
			if err != nil {
				errs = append(errs, fmt.Errorf("endpoint: %w", err))
				res.Waiting = files
			} else {
				r, err := endpoint.Deliver(ctx, sp, client, logf)
				client.Close()
				res.Delivered, res.Rejected, res.Waiting = r.Delivered, r.Rejected, r.Remaining
				if err != nil {
					errs = append(errs, fmt.Errorf("endpoint: %w", err))
				}
			}
		}
	}
	for _, s := range []otlp.Signal{otlp.SignalLogs, otlp.SignalMetrics} {
		if !res.OTLP || cfg.OTLP.URL(string(s)) == "" {
			continue
		}
		sp, err := spool.Open(OTLPSpoolDir(stateDir, s, cfg.OTLP), cfg.Spool.MaxReports, cfg.Spool.MaxBytes)
		if err != nil {
			errs = append(errs, fmt.Errorf("otlp %s spool: %w", s, err))
			continue
		}
		if files, _, _ := sp.Depth(); files == 0 {
			continue
		}
		r, err := deliverSpool(ctx, cfg.OTLP, sp, s, userAgent, logf)
		res.OTLPDelivered += r.Delivered
		res.OTLPRejected += r.Rejected
		res.OTLPWaiting += r.Remaining
		if err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}

// Pending reports whether a spool of a configured sink holds something:
// a listing of at most three directories, cheap enough after every cycle.
func Pending(cfg Config, stateDir string) bool {
	var dirs []string
	if cfg.Endpoint.URL != "" {
		dirs = append(dirs, filepath.Join(stateDir, "spool"))
	}
	for _, s := range []otlp.Signal{otlp.SignalLogs, otlp.SignalMetrics} {
		if cfg.OTLP.URL(string(s)) != "" {
			dirs = append(dirs, OTLPSpoolDir(stateDir, s, cfg.OTLP))
		}
	}
	for _, d := range dirs {
		if n, err := spool.Count(d); err == nil && n > 0 {
			return true
		}
	}
	return false
}
