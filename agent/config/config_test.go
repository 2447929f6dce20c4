package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/vigie-agent/vigie/agent"
	"github.com/vigie-agent/vigie/agent/config"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vigie.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func checkFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("check", pflag.ContinueOnError)
	fs.String("profile", "baseline", "")
	fs.String("fail-on", "low", "")
	fs.StringSlice("only", nil, "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestLoadConfigDefaultsWhenMissing(t *testing.T) {
	cfg, err := config.Load(filepath.Join(t.TempDir(), "absent.yaml"), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	def := config.Defaults()
	if cfg.Profile != def.Profile || cfg.FailOn != def.FailOn || cfg.Timeout != def.Timeout || cfg.SSH != def.SSH {
		t.Errorf("got %+v, want %+v", cfg, def)
	}
}

func TestLoadConfigExplicitMissing(t *testing.T) {
	_, err := config.Load(filepath.Join(t.TempDir(), "absent.yaml"), true, nil)
	var ce *config.Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "absent.yaml") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadConfigUnknownKeys(t *testing.T) {
	for body, key := range map[string]string{
		"profile: baseline\nfail_onn: high\n":                      "fail_onn",
		"ssh:\n  probe_usr: root\n":                                "ssh.probe_usr",
		"reporting:\n  url: x\n":                                   "reporting.url",
		"report:\n  otlp:\n    endpont: https://otel.example\n":    "report.otlp.endpont",
		"report:\n  otlp:\n    headers:\n      a:\n        b: c\n": "report.otlp.headers.a.b",
	} {
		_, err := config.Load(writeConfig(t, body), true, nil)
		var ce *config.Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "unknown key "+key) {
			t.Errorf("%q: err = %v, want unknown key %s", body, err, key)
		}
	}
}

// TestLoadConfigHeaders: a header map's entries are the operator's to
// name, so they are no unknown keys.
func TestLoadConfigHeaders(t *testing.T) {
	body := "report:\n  otlp:\n    endpoint: https://otel.example\n    headers:\n      X-Scope-OrgID: team-a\n    header_files:\n      X-Token: /etc/vigie/token\n"
	cfg, err := config.Load(writeConfig(t, body), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	// viper folds keys to lower case; HTTP header names do not care.
	if cfg.Report.OTLP.Headers["x-scope-orgid"] != "team-a" || cfg.Report.OTLP.HeaderFiles["x-token"] != "/etc/vigie/token" {
		t.Errorf("headers %v %v", cfg.Report.OTLP.Headers, cfg.Report.OTLP.HeaderFiles)
	}
}

// TestLoadConfigEmptySections: the shipped file with every key of a
// section commented out leaves "ssh:" alone on its line.
func TestLoadConfigEmptySections(t *testing.T) {
	cfg, err := config.Load(writeConfig(t, "profile: baseline\nssh:\nfirewall:\n"), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SSH != config.Defaults().SSH {
		t.Errorf("empty ssh section changed the defaults: %+v", cfg.SSH)
	}
	if _, err := config.Load(writeConfig(t, "ssh: 3\n"), true, nil); err == nil {
		t.Error("scalar section accepted")
	}
}

// TestShippedConfig: the packaged default file loads as is, and with every
// key uncommented.
func TestShippedConfig(t *testing.T) {
	b, err := os.ReadFile("../../packaging/vigie.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(writeConfig(t, string(b)), true, nil); err != nil {
		t.Fatalf("shipped file: %v", err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "#  #"), l == "#":
		case strings.HasPrefix(l, "#  "), len(l) > 1 && l[0] == '#' && l[1] != ' ':
			out = append(out, l[1:]) // a key, at the top or indented under a section
		}
	}
	cfg, err := config.Load(writeConfig(t, strings.Join(out, "\n")), true, nil)
	if err != nil {
		t.Fatalf("uncommented: %v\n%s", err, strings.Join(out, "\n"))
	}
	if cfg.SSH != config.Defaults().SSH || cfg.Timeout != config.Defaults().Timeout || cfg.FailOn != config.Defaults().FailOn ||
		cfg.Run.Interval != config.Defaults().Run.Interval || cfg.Report.Spool != config.Defaults().Report.Spool || cfg.Patches != config.Defaults().Patches {
		t.Errorf("the shipped file's values are not the defaults: %+v", cfg)
	}
	// Every key is documented there.
	text := strings.Join(out, "\n")
	for _, k := range config.Keys() {
		leaf := k[strings.LastIndexByte(k, '.')+1:]
		if !regexp.MustCompile(`(?m)^\s*` + leaf + `:`).MatchString(text) {
			t.Errorf("packaging/vigie.yaml does not document %s", k)
		}
	}
}

func TestLoadConfigBadValues(t *testing.T) {
	cat := agent.Catalogue()
	tests := []struct{ body, want string }{
		{"fail_on: severe\n", `unknown severity "severe"`},
		{"profile: paranoid\n", `unknown profile "paranoid"`},
		{"only: [ssh, dns]\n", `unknown area or check "dns"`},
		{"only: [ssh.password]\n", `unknown area or check "ssh.password"`},
		{"timeout: -1s\n", "timeout: must be positive"},
		{"ssh:\n  probe_timeout: 0s\n", "ssh.probe_timeout: must be positive"},
		{"firewall:\n  allowed_ports: [\"443\"]\n", `firewall.allowed_ports: "443" is not PORT/tcp or PORT/udp`},
		{"patches:\n  reboot: sometimes\n", `patches.reboot: "sometimes" is neither never nor allowed`},
		{"patches:\n  reboot: allowed\n", "patches.reboot_window: must be set (HH:MM-HH:MM) when patches.reboot is allowed"},
		{"patches:\n  reboot: allowed\n  reboot_window: 2am-4am\n", `patches.reboot_window: "2am" is not a time HH:MM`},
		{"patches:\n  lock_timeout: -1s\n", "patches.lock_timeout: must not be negative"},
		{"scaleway:\n  metadata_timeout: 0s\n", "scaleway.metadata_timeout: at least 100ms"},
		{"scaleway:\n  metadata_timeout: 10ms\n", "scaleway.metadata_timeout: at least 100ms (below it no request is worth sending), got 10ms"},
		{"scaleway:\n  metadata_timeout: 2m\n", "scaleway.metadata_timeout: at most 1m0s"},
		{"timeout: 1s\n", "scaleway.metadata_timeout: 2s is longer than timeout (1s)"},
		{"run:\n  interval: 5s\n", "run.interval: must be at least 10s"},
		{"run:\n  remediate: [dns]\n", `run.remediate: no remediation for "dns"`},
		{"report:\n  endpoint:\n    url: http://collector.example/x\n", "plain http is allowed only to a loopback host"},
		{"report:\n  endpoint:\n    url: https://user:pw@c.example/x\n", "credentials in the URL are refused"},
		{"report:\n  endpoint:\n    token_file: /etc/vigie/token\n", "report.endpoint.token_file is set but report.endpoint.url is not"},
		{"report:\n  endpoint:\n    url: https://c.example/x\n    cert_file: /a.pem\n", "cert_file and key_file go together"},
		{"report:\n  textfile: /tmp/vigie.txt\n", "must be an absolute path ending in .prom"},
		{"report:\n  textfile_series: failed\n", `report.textfile_series: "failed" is not one of all, failing, summary`},
		{"report:\n  textfile_series: \"\"\n", `report.textfile_series: "" is not one of all, failing, summary`},
		{"report:\n  spool:\n    max_reports: 0\n", "report.spool.max_reports: must be at least 1"},
	}
	for _, tt := range tests {
		cfg, err := config.Load(writeConfig(t, tt.body), true, nil)
		if err == nil {
			err = cfg.Validate(cat, agent.RemediableAreas())
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want %q", tt.body, err, tt.want)
		}
	}
	for _, body := range []string{"timeout: soon\n", "ssh: 3\n", "ssh:\n  probe: maybe\n", "profile: [a\n"} {
		if _, err := config.Load(writeConfig(t, body), true, nil); err == nil {
			t.Errorf("%q accepted", body)
		}
	}
}

// TestLoadConfigTextfileSeries: each mode loads and validates; all when
// unset.
func TestLoadConfigTextfileSeries(t *testing.T) {
	for body, want := range map[string]string{
		"report:\n  textfile: /var/lib/prometheus/node-exporter/vigie.prom\n": "all",
		"report:\n  textfile_series: all\n":                                   "all",
		"report:\n  textfile_series: failing\n":                               "failing",
		"report:\n  textfile_series: summary\n":                               "summary",
	} {
		cfg, err := config.Load(writeConfig(t, body), true, nil)
		if err == nil {
			err = cfg.Validate(agent.Catalogue(), agent.RemediableAreas())
		}
		if err != nil || cfg.Report.TextfileSeries != want {
			t.Errorf("%q: %q, %v; want %q", body, cfg.Report.TextfileSeries, err, want)
		}
	}
}

// TestLoadConfigPrecedence: flag > environment > file > default.
func TestLoadConfigPrecedence(t *testing.T) {
	p := writeConfig(t, "fail_on: medium\nprofile: baseline\ntimeout: 3s\nssh:\n  probe_user: admin\n")
	cfg, err := config.Load(p, true, checkFlags(t))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.FailOn != "medium" || cfg.Timeout != 3*time.Second || cfg.SSH.ProbeUser != "admin" {
		t.Errorf("file: %+v", cfg)
	}
	t.Setenv("VIGIE_FAIL_ON", "high")
	t.Setenv("VIGIE_SSH_PROBE_USER", "debian")
	cfg, err = config.Load(p, true, checkFlags(t))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.FailOn != "high" || cfg.SSH.ProbeUser != "debian" {
		t.Errorf("env: %+v", cfg)
	}
	cfg, err = config.Load(p, true, checkFlags(t, "--fail-on", "critical", "--only", "ssh"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.FailOn != "critical" || len(cfg.Only) != 1 || cfg.Only[0] != "ssh" {
		t.Errorf("flag: %+v", cfg)
	}
}
