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
	// Textfile is the .prom file node_exporter's textfile collector reads;
	// empty: none.
	Textfile string `mapstructure:"textfile"`
	// TextfileSeries is which per-check series the textfile holds: all,
	// failing or summary (TextfileSeriesModes).
	TextfileSeries string `mapstructure:"textfile_series"`
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
