package patches

import (
	"context"
	"fmt"

	patchcheck "github.com/vigie-agent/vigie/checks/patches"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/units"
	"github.com/vigie-agent/vigie/remediations"
)

// Remediation is the patches area's remediations.Remediation: security
// updates installed, automatic security updates turned on.
type Remediation struct {
	Config Config
}

// The area implements the engine's interface.
var _ remediations.Remediation = (*Remediation)(nil)

// New returns the patches remediation for the area's section.
func New(cfg Config) *Remediation { return &Remediation{Config: cfg} }

// Name implements remediations.Remediation.
func (r *Remediation) Name() string { return "patches" }

// Plan implements remediations.Remediation.
func (r *Remediation) Plan(ctx context.Context, env *host.Env, _ remediations.Request) (*remediations.Plan, error) {
	po := r.Config.Options()
	f := patchcheck.Gather(ctx, env, po)
	w, _ := ParseWindow(r.Config.RebootWindow) // validated with the configuration
	o := Options{Check: po, Reboot: r.Config.Reboot, Window: w, LockTimeout: r.Config.LockTimeout, Systemd: units.Live(env)}
	return BuildPlan(ctx, env, f, o)
}

// Activate implements remediations.Remediation: apt and dnf read their
// configuration at every run.
func (r *Remediation) Activate(context.Context, *host.Env) error { return nil }

// CanCutOff implements remediations.Remediation.
func (r *Remediation) CanCutOff() bool { return false }

// NeedsNewConnection implements remediations.Remediation: patches cut no one off.
func (r *Remediation) NeedsNewConnection() bool { return false }

// RestoresInterrupted implements remediations.Remediation (package transactions are never undone).
func (r *Remediation) RestoresInterrupted() bool { return false }

// Destructive implements remediations.Remediation.
func (r *Remediation) Destructive() bool { return false }

// Undoable implements remediations.Remediation: undo puts the
// configuration back, the upgrades stay.
func (r *Remediation) Undoable(string) error { return nil }

// Applied implements remediations.Remediation.
func (r *Remediation) Applied(run, _ string) string {
	return fmt.Sprintf("run %s; `vigie undo %s` reverts the configuration, not the upgrades", run, run)
}

// KeepOpen implements remediations.Remediation.
func (r *Remediation) KeepOpen(context.Context, *host.Env) []int { return nil }
