package sinks

import (
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"

	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/agent/report/reporttest"
	"github.com/vigie-agent/vigie/checks"
)

func TestJournalChanges(t *testing.T) {
	var got []entry
	send := func(msg string, p journal.Priority, vars map[string]string) error {
		got = append(got, entry{msg, p, vars})
		return nil
	}
	prev, cur := reporttest.Sample(), reporttest.Sample()
	cur.Findings[0].Status = checks.Pass // ssh.password-auth resolved
	cur.Findings[1].Status = checks.Fail // ssh.root-login newly failing
	cur.Summary = report.Summarize(cur.Findings)
	if err := JournalChanges(send, cur, report.Changes(prev, cur)); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d entries, want two changes and the summary: %+v", len(got), got)
	}
	resolved, failing, sum := got[0], got[1], got[2]
	if resolved.vars["VIGIE_CHANGE"] != "resolved" || resolved.vars["VIGIE_PREVIOUS_STATUS"] != "fail" || resolved.prio != journal.PriInfo ||
		!strings.HasPrefix(resolved.msg, "ssh.password-auth resolved, pass (was fail): ") {
		t.Errorf("resolved: %+v", resolved)
	}
	if failing.vars["VIGIE_CHANGE"] != "failing" || failing.prio != journal.PriErr || !strings.HasPrefix(failing.msg, "ssh.root-login failing, fail (was pass)") {
		t.Errorf("failing: %+v", failing)
	}
	if sum.vars["VIGIE_SUMMARY"] != "1" || sum.vars["VIGIE_CHANGES"] != "2" {
		t.Errorf("summary: %+v", sum)
	}
	// Nothing changed: the summary alone, not every failing finding again.
	got = nil
	if err := JournalChanges(send, cur, report.Changes(cur, cur)); err != nil || len(got) != 1 || got[0].vars["VIGIE_CHANGES"] != "0" {
		t.Errorf("no change: %v %+v", err, got)
	}
}

func TestConfigOTLP(t *testing.T) {
	ok := func(c *Config) {}
	tests := []struct {
		name string
		set  func(*Config)
		want string // in the error; "" for valid
	}{
		{"defaults", ok, ""},
		{"base endpoint", func(c *Config) { c.OTLP.Endpoint = "https://otel.example:4318" }, ""},
		{"cockpit", func(c *Config) {
			c.OTLP.LogsURL = "https://abc.logs.cockpit.fr-par.scw.cloud/otlp/v1/logs"
			c.OTLP.MetricsURL = "https://abc.metrics.cockpit.fr-par.scw.cloud/otlp/v1/metrics"
			c.OTLP.HeaderFiles = map[string]string{"x-token": "/etc/vigie/cockpit-token"}
		}, ""},
		{"plain http off loopback", func(c *Config) { c.OTLP.Endpoint = "http://otel.example:4318" }, "otlp.endpoint: "},
		{"bad mode", func(c *Config) { c.OTLP.Mode = "some" }, `otlp.mode: "some" is not a mode`},
		{"bad journal mode", func(c *Config) { c.JournalMode = "all" }, `journal_mode: "all"`},
		{"full_every too short", func(c *Config) { c.FullEvery = 0 }, "full_every: must be at least 1m"},
		{"headers without endpoint", func(c *Config) { c.OTLP.Headers = map[string]string{"a": "b"} }, "no otlp endpoint"},
		{"relative header file", func(c *Config) {
			c.OTLP.Endpoint = "https://otel.example"
			c.OTLP.HeaderFiles = map[string]string{"x-token": "token"}
		}, "otlp.header_files.x-token"},
		{"reserved header", func(c *Config) {
			c.OTLP.Endpoint = "https://otel.example"
			c.OTLP.Headers = map[string]string{"content-type": "text/plain"}
		}, "set by vigie itself"},
		{"header with a line break", func(c *Config) {
			c.OTLP.Endpoint = "https://otel.example"
			c.OTLP.Headers = map[string]string{"x-a": "b\r\nX-Forged: 1"}
		}, "line break"},
		{"header with a control character", func(c *Config) {
			c.OTLP.Endpoint = "https://otel.example"
			c.OTLP.Headers = map[string]string{"x-tenant": "a\x01b"}
		}, "control or non-ASCII"},
		{"base URL with a query", func(c *Config) { c.OTLP.Endpoint = "https://otel.example/?tenant=a" }, "takes no query"},
		{"reserved Expect", func(c *Config) {
			c.OTLP.Endpoint = "https://otel.example"
			c.OTLP.Headers = map[string]string{"expect": "100-continue"}
		}, "set by vigie itself"},
		{"cert without key", func(c *Config) { c.OTLP.Endpoint = "https://otel.example"; c.OTLP.CertFile = "/c.pem" }, "go together"},
	}
	for _, tt := range tests {
		c := DefaultConfig()
		tt.set(&c)
		err := c.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	c := DefaultConfig()
	c.OTLP.Endpoint = "https://otel.example:4318/"
	c.OTLP.MetricsURL = "https://m.example/otlp/v1/metrics"
	if c.OTLP.URL("logs") != "https://otel.example:4318/v1/logs" || c.OTLP.URL("metrics") != "https://m.example/otlp/v1/metrics" {
		t.Errorf("urls %q %q", c.OTLP.URL("logs"), c.OTLP.URL("metrics"))
	}
}
