package disks

import (
	"context"
	"fmt"

	diskcheck "github.com/vigie-agent/vigie/checks/disks"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/units"
	"github.com/vigie-agent/vigie/remediations"
)

// Remediation is the disks area's remediations.Remediation: empty scratch
// filesystems and swap re-created on dm-crypt with a key drawn at every
// boot, with --allow-destructive only.
type Remediation struct {
	Check diskcheck.Options
}

// The area implements the engine's interface.
var _ remediations.Remediation = (*Remediation)(nil)

// New returns the disks remediation for the area's options.
func New(check diskcheck.Options) *Remediation { return &Remediation{Check: check} }

// Name implements remediations.Remediation.
func (r *Remediation) Name() string { return "disks" }

// Plan implements remediations.Remediation.
func (r *Remediation) Plan(ctx context.Context, env *host.Env, req remediations.Request) (*remediations.Plan, error) {
	f := diskcheck.Gather(ctx, env, r.Check)
	o := Options{AllowDestructive: req.AllowDestructive, Check: r.Check}
	if units.Live(env) {
		o.Systemd = units.Systemd{}
	}
	return BuildPlan(ctx, env, f, o)
}

// Activate reloads systemd, which reads crypttab and fstab again.
func (r *Remediation) Activate(ctx context.Context, _ *host.Env) error {
	return units.Systemd{}.Reload(ctx)
}

// CanCutOff implements remediations.Remediation.
func (r *Remediation) CanCutOff() bool { return false }

// NeedsNewConnection implements remediations.Remediation: no way in depends on the disks.
func (r *Remediation) NeedsNewConnection() bool { return false }

// RestoresInterrupted implements remediations.Remediation.
func (r *Remediation) RestoresInterrupted() bool { return true }

// Destructive implements remediations.Remediation.
func (r *Remediation) Destructive() bool { return true }

// Undoable refuses: the clear filesystem or swap no longer exists, and
// putting the old fstab back would make the next boot look for it.
func (r *Remediation) Undoable(backups string) error {
	return fmt.Errorf("the run re-created disks encrypted; restoring its files would point fstab at filesystems that no longer exist. Edit /etc/crypttab and /etc/fstab by hand (backups in %s)", backups)
}

// Applied implements remediations.Remediation.
func (r *Remediation) Applied(run, backups string) string {
	return fmt.Sprintf("run %s; backups of crypttab and fstab in %s", run, backups)
}

// KeepOpen implements remediations.Remediation.
func (r *Remediation) KeepOpen(context.Context, *host.Env) []int { return nil }
