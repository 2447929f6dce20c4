package disks

import "github.com/vigie-agent/vigie/host/scaleway"

// Config is the disks: section of vigie.yaml.
type Config struct {
	// Scratch names devices or mount points to treat as scratch storage.
	Scratch []string `mapstructure:"scratch"`
}

// DefaultConfig is the section when nothing is set.
func DefaultConfig() Config { return Config{Scratch: []string{}} }

// Validate accepts any list: a name that matches no device matches none.
func (c Config) Validate() error { return nil }

// Options are the area's options with the section applied; md is the run's
// metadata client, shared by every area that needs it.
func (c Config) Options(md *scaleway.Client) Options {
	return Options{Scratch: c.Scratch, Metadata: md}
}
