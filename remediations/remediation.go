package remediations

import (
	"context"

	"github.com/vigie-agent/vigie/host"
)

// Remediation is what `vigie fix` can change in one area. Each area's
// package implements it; the agent lists them the way the catalogue lists
// areas, and orchestrates them through this interface alone.
type Remediation interface {
	// Name is the area's name: the catalogue's, and the Remediation.ID of
	// the checks it fixes.
	Name() string
	// Plan gathers the area's facts and builds the plan: the changes, and
	// how to validate, activate and verify them.
	Plan(ctx context.Context, env *host.Env, req Request) (*Plan, error)
	// Activate makes the running system follow the area's files again,
	// after an undo or the revert of an interrupted run.
	Activate(ctx context.Context, env *host.Env) error
	// CanCutOff says whether a change can cut the operator's way in (sshd,
	// the firewall): such a change is kept only once confirmed.
	CanCutOff() bool
	// NeedsNewConnection says whether only a connection opened after the
	// change proves it keeps the way in: the firewall's, since conntrack
	// keeps the session that made it open whatever the new ruleset says.
	// Its confirmation must then come from a new session.
	NeedsNewConnection() bool
	// RestoresInterrupted says whether a run interrupted half way is put
	// back by restoring its files and reverting its journaled actions:
	// then the revert armed before the run does so as soon as vigie dies,
	// rather than leave the host half changed until vigie runs again.
	// Package upgrades are not: a transaction goes on after vigie, in a
	// scope of its own, and is never undone.
	RestoresInterrupted() bool
	// Destructive says whether the area's changes need --allow-destructive.
	Destructive() bool
	// Undoable says why `vigie undo` must not put back the files of an
	// applied run of the area (backups is where they are), or nil.
	Undoable(backups string) error
	// Applied is what the operator is told once a run is applied and
	// verified: how to revert it, or why it cannot be.
	Applied(run, backups string) string
	// KeepOpen lists the TCP ports the area's service must stay reachable
	// on; the firewall keeps every area's open.
	KeepOpen(ctx context.Context, env *host.Env) []int
}

// Request is what the operator asked of this run.
type Request struct {
	Force            bool // override the anti-lockout refusals
	AllowDestructive bool // let the disks area erase scratch and swap
	// KeepOpen are the ports every area's KeepOpen named.
	KeepOpen []int
}

// Find returns the remediation of an area.
func Find(list []Remediation, name string) (Remediation, bool) {
	for _, r := range list {
		if r.Name() == name {
			return r, true
		}
	}
	return nil, false
}

// Names lists the areas, in the order `vigie fix` changes them.
func Names(list []Remediation) []string {
	out := make([]string, len(list))
	for i, r := range list {
		out[i] = r.Name()
	}
	return out
}
