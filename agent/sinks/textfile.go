package sinks

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/internal/atomicfile"
	"github.com/vigie-agent/vigie/internal/printable"
)

// SpoolState is the state of the report queue when a cycle ends.
type SpoolState struct {
	SpoolReports int
	SpoolBytes   int64
	Dropped      int       // reports dropped from a full spool, this cycle
	LastSuccess  time.Time // zero when nothing was ever delivered
}

// TextfileSeries says which per-check series the textfile holds
// (report.textfile_series). Each series is one more the fleet's Prometheus
// keeps per host: a mode trades detail for cardinality.
type TextfileSeries string

const (
	// SeriesAll writes vigie_check_status for every check, with its status.
	SeriesAll TextfileSeries = "all"
	// SeriesFailing writes it only for checks that fail or error: a check
	// that passes again leaves the file, and its series ends.
	SeriesFailing TextfileSeries = "failing"
	// SeriesSummary writes no per-check series: only the counts by
	// severity, vigie_info, the timestamps and the spool gauges.
	SeriesSummary TextfileSeries = "summary"
)

// TextfileSeriesModes lists the modes, in the order the documentation gives
// them.
var TextfileSeriesModes = []TextfileSeries{SeriesAll, SeriesFailing, SeriesSummary}

// perCheck says whether a finding gets its series in mode m: a waived one
// is not failing.
func (m TextfileSeries) perCheck(f checks.Finding) bool {
	switch m {
	case SeriesAll:
		return true
	case SeriesFailing:
		return f.Failing()
	}
	return false
}

// statusLabel is the status a series carries: a waived finding's is
// "waived", so that no rule on fail or error fires for an accepted risk;
// the report keeps the real status.
func statusLabel(f checks.Finding) string {
	if len(f.Waived) > 0 {
		return "waived"
	}
	return string(f.Status)
}

// labelMax bounds a label value, in runes.
const labelMax = 128

// label escapes a label value. The text format escapes only backslash,
// double quote and newline: any other control character would reach
// whoever reads the file or the metrics page, and client_golang refuses
// (panics on) a value that is not UTF-8.
func label(s string) string { return printable.Line(s, labelMax) }

// WriteTextfile writes the report as metrics for node_exporter's textfile
// collector, with the per-check series that mode asks for. The file is
// replaced atomically: the collector never reads a half-written file.
func WriteTextfile(path string, r *report.Report, d SpoolState, mode TextfileSeries) error {
	if !slices.Contains(TextfileSeriesModes, mode) {
		return fmt.Errorf("textfile: unknown series mode %q", mode)
	}
	reg := prometheus.NewRegistry()
	status := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vigie_check_status",
		Help: "1 for the status each check had in the last run (pass, fail, error, skip); only failing checks with report.textfile_series: failing."},
		[]string{"check", "area", "severity", "status"})
	failing := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vigie_checks_failing",
		Help: "Checks that failed or could not run in the last run, by severity."}, []string{"severity"})
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vigie_info", Help: "The agent's version and profile."}, []string{"version", "profile"})
	last := prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigie_last_run_timestamp_seconds", Help: "When the last run started."})
	dur := prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigie_last_run_duration_seconds", Help: "How long the last run's checks took."})
	spoolN := prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigie_spool_reports", Help: "Reports waiting in the spools of the HTTPS endpoint and the OTLP collector."})
	spoolB := prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigie_spool_bytes", Help: "Bytes of the reports waiting in the spools."})
	dropped := prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigie_spool_dropped_reports", Help: "Reports dropped from the full spool during the last run."})
	reg.MustRegister(failing, info, last, dur, spoolN, spoolB, dropped)
	if mode != SeriesSummary {
		reg.MustRegister(status)
	}
	for _, s := range []checks.Severity{checks.Info, checks.Low, checks.Medium, checks.High, checks.Critical} {
		failing.WithLabelValues(s.String()).Set(0)
	}
	for _, f := range r.Findings {
		if mode.perCheck(f) {
			status.WithLabelValues(label(f.ID), label(f.Area()), f.Severity.String(), label(statusLabel(f))).Set(1)
		}
		if f.Failing() {
			failing.WithLabelValues(f.Severity.String()).Inc()
		}
	}
	if r.Summary.Waived > 0 {
		waived := prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigie_checks_waived", Help: "Failing checks a waiver covers (accepted risks), in the last run."})
		waived.Set(float64(r.Summary.Waived))
		reg.MustRegister(waived)
	}
	info.WithLabelValues(label(r.Agent.Version), label(r.Profile)).Set(1)
	last.Set(float64(r.StartedAt.UnixMilli()) / 1000)
	dur.Set(float64(r.DurationMS) / 1000)
	spoolN.Set(float64(d.SpoolReports))
	spoolB.Set(float64(d.SpoolBytes))
	dropped.Set(float64(d.Dropped))
	if !d.LastSuccess.IsZero() {
		ok := prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigie_last_delivery_timestamp_seconds", Help: "When a report last reached the endpoint or the OTLP collector."})
		ok.Set(float64(d.LastSuccess.UnixMilli()) / 1000)
		reg.MustRegister(ok)
	}
	mfs, err := reg.Gather()
	if err != nil {
		return fmt.Errorf("textfile metrics: %w", err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("textfile metrics: %w", err)
		}
	}
	if err := mkdirReadable(filepath.Dir(path)); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	return atomicfile.Write(path, buf.Bytes(), 0o644)
}

// mkdirReadable creates dir and its missing parents with mode 0755 whatever
// the umask (vigie.service sets UMask=0077): node_exporter, running as its
// own user, must reach the file. Existing directories keep their mode.
func mkdirReadable(dir string) error {
	st, err := os.Stat(dir)
	if err == nil {
		if !st.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirReadable(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // made meanwhile, by someone else
		}
		return err
	}
	return os.Chmod(dir, 0o755)
}
