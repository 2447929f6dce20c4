package ssh

import (
	"errors"
	"fmt"
	"time"
)

// Config is the ssh: section of vigie.yaml: what an operator may set of
// Options.
type Config struct {
	Probe        bool          `mapstructure:"probe"`
	ProbeUser    string        `mapstructure:"probe_user"`
	ProbeTimeout time.Duration `mapstructure:"probe_timeout"`
	SshdPath     string        `mapstructure:"sshd_path"`
	ConfigPath   string        `mapstructure:"config_path"`
}

// DefaultConfig is the section when nothing is set.
func DefaultConfig() Config {
	o := DefaultOptions()
	return Config{Probe: o.Probe, ProbeUser: o.ProbeUser, ProbeTimeout: o.ProbeTimeout, SshdPath: o.SshdPath, ConfigPath: o.ConfigPath}
}

// Validate names the first key whose value this build cannot use.
func (c Config) Validate() error {
	if c.ProbeTimeout <= 0 {
		return fmt.Errorf("probe_timeout: must be positive, got %s", c.ProbeTimeout)
	}
	if c.ProbeUser == "" {
		return errors.New("probe_user: must not be empty")
	}
	return nil
}

// Options are the area's options with the section applied.
func (c Config) Options() Options {
	o := DefaultOptions()
	o.Probe, o.ProbeUser, o.ProbeTimeout = c.Probe, c.ProbeUser, c.ProbeTimeout
	o.SshdPath, o.ConfigPath = c.SshdPath, c.ConfigPath
	return o
}
