package firewall

import (
	"context"
	"fmt"
	"slices"
	"strings"

	fwcheck "github.com/vigie-agent/vigie/checks/firewall"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/units"
	"github.com/vigie-agent/vigie/remediations"
)

// PersistFile is vigie's ruleset for the boot, loaded by UnitFile.
const PersistFile = fwcheck.BootFile

// BootUnit loads PersistFile at boot.
const BootUnit = fwcheck.BootUnit

// Remediation is the firewall area's remediations.Remediation: vigie's own
// table, replaced in one netlink batch, persisted for the boot.
type Remediation struct {
	Check   fwcheck.Options
	Forward string // the section's forward: auto or deny
}

// The area implements the engine's interface.
var _ remediations.Remediation = (*Remediation)(nil)

// New returns the firewall remediation for the area's section.
func New(cfg Config) *Remediation { return &Remediation{Check: cfg.Options(), Forward: cfg.Forward} }

// Name implements remediations.Remediation.
func (r *Remediation) Name() string { return "firewall" }

// Plan implements remediations.Remediation.
func (r *Remediation) Plan(ctx context.Context, env *host.Env, req remediations.Request) (*remediations.Plan, error) {
	f := fwcheck.Gather(ctx, env, r.Check)
	return BuildPlan(ctx, env, f, r.options(env, keepPorts(f, req), req.Force))
}

// keepPorts are the TCP ports the ruleset never closes: every area's
// (sshd's configuration and socket unit), those of the sockets sshd
// processes hold, so a port opened by hand is kept too, and those of
// ssh.socket or sshd.socket, which PID 1 holds for a socket-activated sshd.
func keepPorts(f *fwcheck.Facts, req remediations.Request) []int {
	var ports []int
	add := func(p int) {
		if p > 0 && !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	for _, p := range req.KeepOpen {
		add(p)
	}
	for _, l := range f.Listeners {
		if l.Proto == "tcp" && strings.HasPrefix(l.Process, "sshd") {
			add(l.Port)
		}
	}
	if f.SSHSocket != nil {
		for _, p := range f.SSHSocket.Ports() {
			add(p)
		}
	}
	return ports
}

// Activate loads the persisted table again (or deletes vigie's table when
// the file is gone).
func (r *Remediation) Activate(ctx context.Context, env *host.Env) error {
	opt := r.options(env, nil, false)
	return Sync(ctx, env.Path(opt.PersistFile), opt)
}

// CanCutOff implements remediations.Remediation: the ruleset decides who
// reaches sshd.
func (r *Remediation) CanCutOff() bool { return true }

// NeedsNewConnection implements remediations.Remediation: the session that made the change survives
// through conntrack whatever the new ruleset says of new connections.
func (r *Remediation) NeedsNewConnection() bool { return true }

// RestoresInterrupted implements remediations.Remediation.
func (r *Remediation) RestoresInterrupted() bool { return true }

// Destructive implements remediations.Remediation.
func (r *Remediation) Destructive() bool { return false }

// Undoable implements remediations.Remediation.
func (r *Remediation) Undoable(string) error { return nil }

// Applied implements remediations.Remediation.
func (r *Remediation) Applied(run, _ string) string {
	return fmt.Sprintf("run %s; `vigie undo %s` reverts it", run, run)
}

// KeepOpen implements remediations.Remediation: the firewall itself needs
// no port.
func (r *Remediation) KeepOpen(context.Context, *host.Env) []int { return nil }

// options persist vigie's table through its own file and boot unit, on
// every distribution alike: the distribution's nftables.conf is not
// touched, nor nftables.service enabled, since that file may begin with
// "flush ruleset" and wipe at boot the tables of netfilter-persistent,
// Docker and the like.
func (r *Remediation) options(env *host.Env, ssh []int, force bool) Options {
	o := Options{
		Check:       r.Check,
		SSHPorts:    ssh,
		Allowed:     r.Check.AllowedPorts,
		PersistFile: PersistFile,
		UnitFile:    UnitFile,
		Force:       force,
		Forward:     r.Forward,
	}
	if units.Live(env) {
		o.Units = units.Manager{}
	}
	return o
}
