package sinks

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vigie-agent/vigie/agent/endpoint"
)

// Config is the report: section of vigie.yaml: where reports go besides
// standard output.
type Config struct {
	Endpoint EndpointConfig `mapstructure:"endpoint"`
	Spool    SpoolConfig    `mapstructure:"spool"`
	// Journal writes one entry per failing finding and a summary per run.
	Journal bool `mapstructure:"journal"`
	// JournalMode is changes (one entry per change, a full report at
	// start and every FullEvery) or full (every failing finding, every
	// cycle).
	JournalMode string `mapstructure:"journal_mode"`
	// Textfile is the .prom file node_exporter's textfile collector reads;
	// empty: none.
	Textfile string `mapstructure:"textfile"`
	// TextfileSeries is which per-check series the textfile holds: all,
	// failing or summary (TextfileSeriesModes).
	TextfileSeries string `mapstructure:"textfile_series"`
	// OTLP is the OpenTelemetry collector (or anything speaking OTLP/HTTP).
	OTLP OTLPConfig `mapstructure:"otlp"`
	// FullEvery is how often a sink in changes mode gets the whole report
	// again (and at the service's start), so a receiver that lost state or
	// started late learns everything.
	FullEvery time.Duration `mapstructure:"full_every"`
}

// Modes of a sink that can send changes only.
const (
	ModeChanges = "changes"
	ModeFull    = "full"
)

// OTLPConfig is the OTLP/HTTP sink: findings as log records, the summary
// as metrics, each through its own spool.
type OTLPConfig struct {
	// Endpoint is the collector's base URL; /v1/logs and /v1/metrics are
	// appended (as OTEL_EXPORTER_OTLP_ENDPOINT is). Empty: no OTLP.
	Endpoint string `mapstructure:"endpoint"`
	// LogsURL and MetricsURL, when set, are the whole URL of one signal,
	// used as they are: Scaleway Cockpit has one per data source.
	LogsURL    string `mapstructure:"logs_url"`
	MetricsURL string `mapstructure:"metrics_url"`
	// Headers are sent as they are; HeaderFiles name files holding a
	// header's value (Cockpit's X-Token), read at every request.
	Headers     map[string]string `mapstructure:"headers"`
	HeaderFiles map[string]string `mapstructure:"header_files"`
	CAFile      string            `mapstructure:"ca_file"`
	CertFile    string            `mapstructure:"cert_file"`
	KeyFile     string            `mapstructure:"key_file"`
	Timeout     time.Duration     `mapstructure:"timeout"`
	// Mode is for the log records: changes or full. Metrics go every
	// cycle: they are a few points, and a host that stops sending them is
	// a host that stopped reporting.
	Mode string `mapstructure:"mode"`
}

// Enabled reports whether some signal has somewhere to go.
func (o OTLPConfig) Enabled() bool { return o.Endpoint != "" || o.LogsURL != "" || o.MetricsURL != "" }

// URL returns where a signal goes ("" for nowhere): its own URL, or the
// base endpoint with the protocol's path.
func (o OTLPConfig) URL(signal string) string {
	own := o.LogsURL
	if signal == "metrics" {
		own = o.MetricsURL
	}
	if own != "" {
		return own
	}
	if o.Endpoint == "" {
		return ""
	}
	return strings.TrimSuffix(o.Endpoint, "/") + "/v1/" + signal
}

// EndpointConfig is the HTTPS receiver of the reports.
type EndpointConfig struct {
	URL       string        `mapstructure:"url"`
	TokenFile string        `mapstructure:"token_file"`
	CAFile    string        `mapstructure:"ca_file"`
	CertFile  string        `mapstructure:"cert_file"`
	KeyFile   string        `mapstructure:"key_file"`
	Timeout   time.Duration `mapstructure:"timeout"`
}

// SpoolConfig bounds the reports kept while the endpoint is unreachable.
type SpoolConfig struct {
	MaxReports int   `mapstructure:"max_reports"`
	MaxBytes   int64 `mapstructure:"max_bytes"`
}

// DefaultConfig is the section when nothing is set: the journal on, no
// endpoint, no textfile.
func DefaultConfig() Config {
	return Config{
		Journal:        true,
		TextfileSeries: string(SeriesAll),
		Endpoint:       EndpointConfig{Timeout: 30 * time.Second},
		Spool:          SpoolConfig{MaxReports: 1000, MaxBytes: 64 << 20},
		JournalMode:    ModeChanges,
		OTLP:           OTLPConfig{Timeout: 30 * time.Second, Mode: ModeChanges},
		FullEvery:      24 * time.Hour,
	}
}

// Validate names the first key whose value this build cannot use.
func (c Config) Validate() error {
	if err := c.Endpoint.validate(); err != nil {
		return err
	}
	if c.Spool.MaxReports < 1 {
		return fmt.Errorf("spool.max_reports: must be at least 1, got %d", c.Spool.MaxReports)
	}
	if c.Spool.MaxBytes < 1<<20 {
		return fmt.Errorf("spool.max_bytes: must be at least 1048576 (1 MiB), got %d", c.Spool.MaxBytes)
	}
	if err := checkMode("journal_mode", c.JournalMode); err != nil {
		return err
	}
	if c.FullEvery < time.Minute {
		return fmt.Errorf("full_every: must be at least 1m, got %s", c.FullEvery)
	}
	if err := c.OTLP.validate(); err != nil {
		return err
	}
	if t := c.Textfile; t != "" && (!filepath.IsAbs(t) || !strings.HasSuffix(t, ".prom")) {
		return fmt.Errorf("textfile: %q must be an absolute path ending in .prom (node_exporter reads only those)", t)
	}
	if !slices.Contains(TextfileSeriesModes, TextfileSeries(c.TextfileSeries)) {
		return fmt.Errorf("textfile_series: %q is not one of %s", c.TextfileSeries, modeList())
	}
	return nil
}

func modeList() string {
	names := make([]string, len(TextfileSeriesModes))
	for i, m := range TextfileSeriesModes {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}

func (e EndpointConfig) validate() error {
	files := map[string]string{"token_file": e.TokenFile, "ca_file": e.CAFile, "cert_file": e.CertFile, "key_file": e.KeyFile}
	if e.URL == "" {
		for k, v := range files {
			if v != "" {
				return fmt.Errorf("endpoint.%s is set but report.endpoint.url is not", k)
			}
		}
		return nil
	}
	// The client's own rule, so a URL that passes here is one it accepts.
	if _, err := endpoint.CheckURL(e.URL); err != nil {
		return fmt.Errorf("endpoint.url: %v", err)
	}
	if (e.CertFile == "") != (e.KeyFile == "") {
		return fmt.Errorf("report.endpoint: cert_file and key_file go together")
	}
	for k, v := range files {
		if v != "" && !filepath.IsAbs(v) {
			return fmt.Errorf("endpoint.%s: %q must be an absolute path", k, v)
		}
	}
	if e.Timeout <= 0 {
		return fmt.Errorf("endpoint.timeout: must be positive, got %s", e.Timeout)
	}
	return nil
}

func checkMode(key, v string) error {
	if v != ModeChanges && v != ModeFull {
		return fmt.Errorf("%s: %q is not a mode (changes or full)", key, v)
	}
	return nil
}

func (o OTLPConfig) validate() error {
	if err := checkMode("otlp.mode", o.Mode); err != nil {
		return err
	}
	files := map[string]string{"ca_file": o.CAFile, "cert_file": o.CertFile, "key_file": o.KeyFile}
	if !o.Enabled() {
		for k, v := range files {
			if v != "" {
				return fmt.Errorf("otlp.%s is set but no otlp endpoint is", k)
			}
		}
		if len(o.Headers)+len(o.HeaderFiles) > 0 {
			return fmt.Errorf("otlp headers are set but no otlp endpoint is")
		}
		return nil
	}
	for key, u := range map[string]string{"endpoint": o.Endpoint, "logs_url": o.LogsURL, "metrics_url": o.MetricsURL} {
		if u == "" {
			continue
		}
		parsed, err := endpoint.CheckURL(u)
		if err != nil {
			return fmt.Errorf("otlp.%s: %v", key, err)
		}
		if key == "endpoint" && (parsed.RawQuery != "" || parsed.Fragment != "") {
			return fmt.Errorf("otlp.endpoint: %s: a base URL takes no query or fragment (/v1/logs and /v1/metrics are appended); use logs_url and metrics_url", parsed.Redacted())
		}
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return fmt.Errorf("otlp: cert_file and key_file go together")
	}
	for k, v := range files {
		if v != "" && !filepath.IsAbs(v) {
			return fmt.Errorf("otlp.%s: %q must be an absolute path", k, v)
		}
	}
	for k, v := range o.Headers {
		if err := endpoint.CheckHeader(k, v); err != nil {
			return fmt.Errorf("otlp.headers: %v", err)
		}
		if _, dup := o.HeaderFiles[k]; dup {
			return fmt.Errorf("otlp: header %s is in both headers and header_files", k)
		}
	}
	for k, v := range o.HeaderFiles {
		if err := endpoint.CheckHeader(k, v); err != nil {
			return fmt.Errorf("otlp.header_files: %v", err)
		}
		if !filepath.IsAbs(v) {
			return fmt.Errorf("otlp.header_files.%s: %q must be an absolute path", k, v)
		}
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("otlp.timeout: must be positive, got %s", o.Timeout)
	}
	return nil
}
