package patches

import (
	"fmt"
	"time"

	patchcheck "github.com/vigie-agent/vigie/checks/patches"
)

// Config is the patches: section of vigie.yaml: the check's keys and the
// remediation's.
type Config struct {
	patchcheck.Config `mapstructure:",squash"`
	// Reboot is "never" or "allowed": whether `vigie fix` and the
	// automatic updates it configures may reboot, within RebootWindow.
	Reboot       string `mapstructure:"reboot"`
	RebootWindow string `mapstructure:"reboot_window"`
	// LockTimeout is how long `vigie fix` waits for another package
	// manager to release its lock.
	LockTimeout time.Duration `mapstructure:"lock_timeout"`
}

// DefaultConfig is the section when nothing is set.
func DefaultConfig() Config {
	return Config{Config: patchcheck.DefaultConfig(), Reboot: "never", LockTimeout: 5 * time.Minute}
}

// Validate names the first key whose value this build cannot use.
func (c Config) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	switch c.Reboot {
	case "never":
	case "allowed":
		if c.RebootWindow == "" {
			return fmt.Errorf("reboot_window: must be set (HH:MM-HH:MM) when patches.reboot is allowed")
		}
	default:
		return fmt.Errorf("reboot: %q is neither never nor allowed", c.Reboot)
	}
	if c.RebootWindow != "" {
		if _, err := ParseWindow(c.RebootWindow); err != nil {
			return fmt.Errorf("reboot_window: %w", err)
		}
	}
	if c.LockTimeout < 0 {
		return fmt.Errorf("lock_timeout: must not be negative, got %s", c.LockTimeout)
	}
	return nil
}
