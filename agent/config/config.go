// Package config is /etc/vigie/vigie.yaml: the agent's own keys, and the
// section each area owns (its keys, defaults and validation), embedded and
// validated in a loop; unknown keys are refused by name.
package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	fwfix "github.com/vigie-agent/vigie/remediations/firewall"

	"github.com/vigie-agent/vigie/agent/sinks"
	"github.com/vigie-agent/vigie/agent/waivers"
	"github.com/vigie-agent/vigie/host/hostfs"

	"github.com/spf13/cast"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/checks/disks"
	"github.com/vigie-agent/vigie/checks/ssh"
	"github.com/vigie-agent/vigie/host/scaleway"
	patchfix "github.com/vigie-agent/vigie/remediations/patches"
)

// DefaultPath is where packages install the configuration.
const DefaultPath = "/etc/vigie/vigie.yaml"

// Config is /etc/vigie/vigie.yaml. Every key has a default, so a missing
// file is a valid configuration.
type Config struct {
	Profile string        `mapstructure:"profile"`
	FailOn  string        `mapstructure:"fail_on"`
	Only    []string      `mapstructure:"only"`
	Timeout time.Duration `mapstructure:"timeout"`
	// StateDir holds backups and the journal of `vigie fix`.
	StateDir string `mapstructure:"state_dir"`
	// Each area owns its section: its keys, defaults and validation.
	SSH      ssh.Config      `mapstructure:"ssh"`
	Firewall fwfix.Config    `mapstructure:"firewall"`
	Patches  patchfix.Config `mapstructure:"patches"`
	Disks    disks.Config    `mapstructure:"disks"`
	Scaleway scaleway.Config `mapstructure:"scaleway"`
	Fix      FixConfig       `mapstructure:"fix"`
	Run      RunConfig       `mapstructure:"run"`
	Report   sinks.Config    `mapstructure:"report"`
	// Waivers are the accepted risks of the configuration file, then of
	// the files of WaiversDir; WaiverMaxDays bounds how far ahead one may
	// expire.
	Waivers       []checks.Waiver `mapstructure:"waivers"`
	WaiversDir    string          `mapstructure:"waivers_dir"`
	WaiverMaxDays int             `mapstructure:"waiver_max_days"`
}

// section is one area's part of the configuration.
type section interface{ Validate() error }

// sections lists the areas' sections with their keys, for validation.
func (c Config) sections() []struct {
	key string
	s   section
} {
	return []struct {
		key string
		s   section
	}{
		{"ssh", c.SSH}, {"firewall", c.Firewall}, {"patches", c.Patches}, {"disks", c.Disks}, {"scaleway", c.Scaleway},
		{"report", c.Report},
	}
}

// RunConfig holds the settings of the `vigie run` service.
type RunConfig struct {
	// Interval between two cycles, plus a random Jitter in [0, Jitter).
	Interval time.Duration `mapstructure:"interval"`
	Jitter   time.Duration `mapstructure:"jitter"`
	// CycleTimeout bounds one cycle (checks, remediation, delivery).
	CycleTimeout time.Duration `mapstructure:"cycle_timeout"`
	// Remediate lists the areas each cycle fixes, as `vigie fix --yes
	// --only` would (never destructively). Empty: report only.
	Remediate []string `mapstructure:"remediate"`
}

// FixConfig holds the settings of `vigie fix`.
type FixConfig struct {
	// ConfirmWindow is how long a change applied from an SSH session waits
	// for the operator's confirmation before it is undone.
	ConfirmWindow time.Duration `mapstructure:"confirm_window"`
}

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		Profile:  "baseline",
		FailOn:   "low",
		Only:     []string{},
		Timeout:  10 * time.Second,
		StateDir: "/var/lib/vigie",
		SSH:      ssh.DefaultConfig(),
		Firewall: fwfix.DefaultConfig(),
		Patches:  patchfix.DefaultConfig(),
		Disks:    disks.DefaultConfig(),
		Scaleway: scaleway.DefaultConfig(),
		Fix:      FixConfig{ConfirmWindow: 60 * time.Second},
		Run:      RunConfig{Interval: time.Hour, Jitter: 5 * time.Minute, CycleTimeout: 30 * time.Minute, Remediate: []string{}},
		Report:   sinks.DefaultConfig(),

		Waivers:       []checks.Waiver{},
		WaiversDir:    waivers.DefaultDir,
		WaiverMaxDays: waivers.DefaultMaxDays,
	}
}

// Error is a configuration problem: the command exits 2.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// Errorf makes an Error.
func Errorf(format string, a ...any) error { return &Error{Msg: fmt.Sprintf(format, a...)} }

// flagKeys maps command-line flags to configuration keys.
var flagKeys = map[string]string{"profile": "profile", "fail-on": "fail_on", "only": "only"}

// Load builds the configuration with precedence flag > environment
// (VIGIE_*) > file > default. path is the file; explicit says the operator
// named it, so a missing file is an error instead of "use defaults".
func Load(path string, explicit bool, flags *pflag.FlagSet) (Config, error) {
	v := viper.New()
	keys := configKeys(reflect.TypeOf(Config{}), "")
	def := Defaults()
	setDefaults(v, reflect.ValueOf(def), "")
	v.SetEnvPrefix("VIGIE")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	v.SetConfigType("yaml")

	data, err := hostfs.ReadFile(context.Background(), path, hostfs.Config)
	switch {
	case err == nil:
		if err := v.ReadConfig(strings.NewReader(string(data))); err != nil {
			return Config{}, Errorf("config %s: %v", path, err)
		}
	case errors.Is(err, fs.ErrNotExist) && !explicit:
	default:
		return Config{}, Errorf("config: read %s: %v", path, err)
	}
	// Unknown keys are looked for in the file alone: defaults would hide an
	// empty section, and the environment is not vigie's to police.
	fileOnly := viper.New()
	fileOnly.SetConfigType("yaml")
	if len(data) > 0 {
		if err := fileOnly.ReadConfig(strings.NewReader(string(data))); err != nil {
			return Config{}, Errorf("config %s: %v", path, err)
		}
	}
	var unknown []string
	for _, k := range fileOnly.AllKeys() {
		if !keys[k] && !(isSection(keys, k) && fileOnly.Get(k) == nil) && !inMap(k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return Config{}, Errorf("config %s: unknown key %s (known keys: %s)", path, strings.Join(unknown, ", "), strings.Join(sortedKeys(keys), ", "))
	}
	if flags != nil {
		for flag, key := range flagKeys {
			if f := flags.Lookup(flag); f != nil {
				if err := v.BindPFlag(key, f); err != nil {
					return Config{}, fmt.Errorf("bind flag --%s: %w", flag, err)
				}
			}
		}
	}
	// Waivers are read here, not by the decoder: their unknown keys are
	// refused by name, and YAML's unquoted dates are timestamps.
	maxDays, err := cast.ToIntE(v.Get("waiver_max_days"))
	if err != nil || maxDays < 1 {
		return Config{}, Errorf("config %s: waiver_max_days: want a number of days, at least 1, got %v", path, v.Get("waiver_max_days"))
	}
	now := time.Now()
	ws, err := waivers.Parse(fileOnly.Get("waivers"), path, now, maxDays)
	if err != nil {
		return Config{}, Errorf("%v", err)
	}
	v.Set("waivers", []checks.Waiver{})
	var cfg Config
	if err := v.UnmarshalExact(&cfg); err != nil {
		return Config{}, Errorf("config %s: %v", path, err)
	}
	more, err := waivers.LoadDir(context.Background(), cfg.WaiversDir, now, maxDays)
	if err != nil {
		return Config{}, Errorf("%v", err)
	}
	cfg.Waivers = append(ws, more...)
	if cfg.Waivers == nil {
		cfg.Waivers = []checks.Waiver{}
	}
	return cfg, nil
}

// Validate checks values against what this build knows: its catalogue and
// the areas it can remediate.
func (c Config) Validate(cat *checks.Catalogue, remediable []string) error {
	if _, err := checks.ParseSeverity(c.FailOn); err != nil {
		return Errorf("fail_on: %v", err)
	}
	if _, ok := checks.Profiles[c.Profile]; !ok {
		return Errorf("profile: unknown profile %q (available: %s)", c.Profile, strings.Join(checks.ProfileNames(), ", "))
	}
	if _, err := cat.Select(c.Only); err != nil {
		return Errorf("%v", err)
	}
	if err := waivers.Check(c.Waivers, func(id string) bool { _, ok := cat.Lookup(id); return ok }); err != nil {
		return Errorf("%v", err)
	}
	if c.Timeout <= 0 {
		return Errorf("timeout: must be positive, got %s", c.Timeout)
	}
	for _, sec := range c.sections() {
		if err := sec.s.Validate(); err != nil {
			return Errorf("%s.%v", sec.key, err)
		}
	}
	if c.Scaleway.MetadataTimeout > c.Timeout {
		return Errorf("scaleway.metadata_timeout: %s is longer than timeout (%s), the deadline of each area that waits for the metadata", c.Scaleway.MetadataTimeout, c.Timeout)
	}
	if c.Fix.ConfirmWindow < 0 {
		return Errorf("fix.confirm_window: must not be negative, got %s", c.Fix.ConfirmWindow)
	}
	if c.Run.Interval < 10*time.Second {
		return Errorf("run.interval: must be at least 10s, got %s", c.Run.Interval)
	}
	if c.Run.Jitter < 0 {
		return Errorf("run.jitter: must not be negative, got %s", c.Run.Jitter)
	}
	if c.Run.CycleTimeout <= 0 {
		return Errorf("run.cycle_timeout: must be positive, got %s", c.Run.CycleTimeout)
	}
	for _, a := range c.Run.Remediate {
		if !slices.Contains(remediable, a) {
			return Errorf("run.remediate: no remediation for %q (available: %s)", a, strings.Join(remediable, ", "))
		}
	}
	return nil
}

// configKeys lists the dotted keys of a config struct from its tags, so the
// list of accepted keys cannot drift from the struct.
func configKeys(t reflect.Type, prefix string) map[string]bool {
	keys := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if squashed(f) {
			for k := range configKeys(f.Type, prefix) {
				keys[k] = true
			}
			continue
		}
		name := prefix + f.Tag.Get("mapstructure")
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			for k := range configKeys(f.Type, name+".") {
				keys[k] = true
			}
			continue
		}
		keys[name] = true
	}
	return keys
}

func setDefaults(v *viper.Viper, val reflect.Value, prefix string) {
	t := val.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if squashed(f) {
			setDefaults(v, val.Field(i), prefix)
			continue
		}
		name := prefix + f.Tag.Get("mapstructure")
		if f.Type.Kind() == reflect.Struct {
			setDefaults(v, val.Field(i), name+".")
			continue
		}
		v.SetDefault(name, val.Field(i).Interface())
	}
}

// squashed says whether a field's keys belong to the enclosing section: an
// area's remediation embeds the check's section (patches).
func squashed(f reflect.StructField) bool {
	return f.Anonymous && strings.Contains(f.Tag.Get("mapstructure"), ",squash")
}

// inMap reports whether k is an entry of a map-valued key (an HTTP
// header's name under report.otlp.headers), whose entries are the
// operator's to choose.
func inMap(k string) bool {
	for _, m := range mapKeys(reflect.TypeOf(Config{}), "") {
		if strings.HasPrefix(k, m+".") && !strings.Contains(k[len(m)+1:], ".") {
			return true
		}
	}
	return false
}

// mapKeys lists the dotted keys whose values are maps.
func mapKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := prefix + f.Tag.Get("mapstructure") + "."
		switch {
		case squashed(f):
			out = append(out, mapKeys(f.Type, prefix)...)
		case f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)):
			out = append(out, mapKeys(f.Type, name)...)
		case f.Type.Kind() == reflect.Map:
			out = append(out, strings.TrimSuffix(name, "."))
		}
	}
	return out
}

// isSection reports whether k names a group of keys ("ssh"): an empty
// section, as left by commenting out all its keys, is valid.
func isSection(keys map[string]bool, k string) bool {
	for known := range keys {
		if strings.HasPrefix(known, k+".") {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Metadata returns a metadata client as configured: one per run, shared by
// the areas that need it.
func (c Config) Metadata() *scaleway.Client { return c.Scaleway.Client() }

// Keys lists every key the configuration accepts, dotted and sorted: what
// packaging/vigie.yaml must document.
func Keys() []string { return sortedKeys(configKeys(reflect.TypeOf(Config{}), "")) }
