package patches

import (
	"fmt"
	"time"
)

// Config is the check's part of the patches: section of vigie.yaml; the
// remediation adds its own keys (remediations/patches.Config).
type Config struct {
	// Refresh lets `check` refresh the package index first (network).
	Refresh bool `mapstructure:"refresh"`
	// IndexMaxAge is how old the index may be and still be trusted.
	IndexMaxAge time.Duration `mapstructure:"index_max_age"`
	// AptMethod is "list" (apt list --upgradable) or "simulate"
	// (apt-get -s dist-upgrade).
	AptMethod string `mapstructure:"apt_method"`
}

// DefaultConfig is the section when nothing is set.
func DefaultConfig() Config {
	o := DefaultOptions()
	return Config{Refresh: o.Refresh, IndexMaxAge: o.MaxIndexAge, AptMethod: o.AptMethod}
}

// Validate names the first key whose value this build cannot use.
func (c Config) Validate() error {
	if c.IndexMaxAge <= 0 {
		return fmt.Errorf("index_max_age: must be positive, got %s", c.IndexMaxAge)
	}
	if c.AptMethod != "list" && c.AptMethod != "simulate" {
		return fmt.Errorf("apt_method: %q is neither list nor simulate", c.AptMethod)
	}
	return nil
}

// Options are the area's options with the section applied.
func (c Config) Options() Options {
	o := DefaultOptions()
	o.Refresh, o.MaxIndexAge, o.AptMethod = c.Refresh, c.IndexMaxAge, c.AptMethod
	return o
}
