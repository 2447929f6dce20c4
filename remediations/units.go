package remediations

import (
	"context"
	"errors"
	"fmt"
)

// Units is the service manager as the engine needs it: enough to enable
// the units a plan asks for and to disable exactly those again. The engine
// knows nothing of systemd; host/units implements this over systemd's
// D-Bus API, and tests over a directory tree.
type Units interface {
	// State says whether a unit already starts at boot (or is not one that
	// enabling changes: a static unit), and whether it runs now. A masked
	// unit is an error: masking is an operator's decision vigie does not
	// override.
	State(ctx context.Context, name string) (enabled, active bool, err error)
	// Enable enables a unit at boot, and starts it too when start is set.
	Enable(ctx context.Context, name string, start bool) error
	// Disable disables a unit at boot, and stops it too when stop is set.
	// A unit that is not enabled (or whose file is gone) is no error.
	Disable(ctx context.Context, name string, stop bool) error
}

// EnableUnit is a unit a plan needs enabled: a boot service that loads the
// plan's files, a timer that runs updates.
type EnableUnit struct {
	Name string
	// Start starts it now too (systemctl enable --now); otherwise it is
	// enabled for the next boot only.
	Start bool
	Why   string
}

// String is the step as the plan shows it.
func (u EnableUnit) String() string {
	if u.Start {
		return "systemctl enable --now " + u.Name
	}
	return "systemctl enable " + u.Name
}

// EnabledUnit is a unit a run enabled that was not enabled before it: the
// only units a rollback, a recovery or an undo disables. A unit the
// operator had enabled already is never recorded, so never disabled.
type EnabledUnit struct {
	Name string `json:"name"`
	// Started is set when the run started it too, and it was not running
	// before: undo stops it.
	Started bool `json:"started,omitempty"`
}

// enableUnits enables the plan's units that are not enabled yet. Each is
// recorded in the journal before systemd is asked, so a crash between the
// two still leaves a journal that disables it: disabling a unit that is
// not enabled changes nothing.
func (e *Engine) enableUnits(ctx context.Context, p *Plan, m *Manifest) error {
	for _, u := range p.Enable {
		enabled, active, err := e.Units.State(ctx, u.Name)
		if err != nil {
			return fmt.Errorf("enable %s: %w", u.Name, err)
		}
		if enabled {
			continue // the operator's, or static: left as it is
		}
		m.Enabled = append(m.Enabled, EnabledUnit{Name: u.Name, Started: u.Start && !active})
		if err := e.save(m); err != nil {
			return err
		}
		if err := e.Units.Enable(ctx, u.Name, u.Start); err != nil {
			return fmt.Errorf("%s: %w", u, err)
		}
		if err := e.step("enable " + u.Name); err != nil {
			return err
		}
	}
	return nil
}

// disableUnits disables what the run enabled, newest first, and stops what
// it started. It goes on after a failure (a rollback must put back all it
// can) and returns every error.
func (e *Engine) disableUnits(ctx context.Context, m *Manifest) error {
	if len(m.Enabled) == 0 {
		return nil
	}
	if e.Units == nil {
		return fmt.Errorf("run %s enabled units, but no service manager is there to disable them", m.Run)
	}
	var errs []error
	for i := len(m.Enabled) - 1; i >= 0; i-- {
		u := m.Enabled[i]
		if err := e.Units.Disable(ctx, u.Name, u.Started); err != nil {
			errs = append(errs, fmt.Errorf("disable %s: %w", u.Name, err))
		}
	}
	return errors.Join(errs...)
}
