package firewall

import (
	"fmt"

	fwcheck "github.com/vigie-agent/vigie/checks/firewall"
)

// Config is the firewall: section of vigie.yaml: the check's keys and the
// remediation's.
type Config struct {
	fwcheck.Config `mapstructure:",squash"`
	// Forward is what `vigie fix` does with forwarded traffic: "auto"
	// drops it by default, except on a host that routes (forwarding on,
	// or another table hooked on forward: Docker, Kubernetes, libvirt),
	// where a drop policy in vigie's table would cut what that table
	// accepts; "deny" drops it by default everywhere.
	Forward string `mapstructure:"forward"`
}

// DefaultConfig is the section when nothing is set.
func DefaultConfig() Config { return Config{Config: fwcheck.DefaultConfig(), Forward: "auto"} }

// Validate names the first key whose value this build cannot use.
func (c Config) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	if c.Forward != "auto" && c.Forward != "deny" {
		return fmt.Errorf("forward: %q is neither auto nor deny", c.Forward)
	}
	return nil
}
