// Package patches installs pending security updates, and only those, and
// turns on the distribution's own automatic security updates
// (unattended-upgrades, dnf-automatic). Package upgrades cannot be rolled
// back: apt and dnf do not downgrade to versions the archive may no longer
// hold, so the plan says so and the transaction covers the configuration
// files only.
package patches

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	patchcheck "github.com/vigie-agent/vigie/checks/patches"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/remediations"
)

// Options say how far the remediation may go.
type Options struct {
	Check patchcheck.Options
	// Reboot is "never" (the default) or "allowed": only then may a
	// reboot be scheduled, at Window's start.
	Reboot string
	Window Window
	// LockTimeout is how long to wait for another package manager
	// (apt-daily, an operator) to release its lock.
	LockTimeout time.Duration
	// AptConf is the file vigie writes for unattended-upgrades. It sorts
	// last in apt.conf.d so its security-only origins win.
	AptConf string
	// Systemd says a service manager runs to enable the apt or
	// dnf-automatic timers; the engine enables them (enable --now) and
	// disables again those it enabled on rollback and undo.
	Systemd bool
	// Run runs a command with extra environment; remediations.Run by
	// default.
	Run func(ctx context.Context, env []string, name string, args ...string) ([]byte, error)
}

// DefaultAptConf sorts after every file a distribution ships.
const DefaultAptConf = "/etc/apt/apt.conf.d/99vigie-security-updates"

func (o *Options) run(ctx context.Context, env []string, name string, args ...string) ([]byte, error) {
	if o.Run != nil {
		return o.Run(ctx, env, name, args...)
	}
	return remediations.Run(ctx, env, name, args...)
}

// BuildPlan turns the patches facts into a plan: the security updates to
// install (held packages excepted), the automatic-update configuration,
// and a reboot only where allowed.
func BuildPlan(ctx context.Context, env *host.Env, f *patchcheck.Facts, opt Options) (*remediations.Plan, error) {
	if opt.AptConf == "" {
		opt.AptConf = DefaultAptConf
	}
	if f.UpdatesErr != "" {
		return nil, fmt.Errorf("patches: cannot list pending updates: %s", f.UpdatesErr)
	}
	p := &remediations.Plan{Area: "patches"}
	var err error
	// auto stays true when automatic updates will be on after the plan.
	auto := f.Manager != "zypper"
	switch f.Manager {
	case "apt":
		err = planApt(ctx, env, f, opt, p, &auto)
	case "dnf":
		err = planDnf(ctx, env, f, opt, p, &auto)
	case "zypper":
		err = planZypper(f, opt, p)
	default:
		return nil, fmt.Errorf("patches: no supported package manager on %q", f.OS.ID)
	}
	if err != nil {
		return nil, err
	}
	if stale := f.IndexStale(); stale != "" {
		p.Notes = append(p.Notes, "The package index may be stale ("+stale+"): updates published since are not in this plan. Set patches.refresh: true to refresh it first.")
	}
	if p.Empty() {
		return p, nil
	}
	// Commit runs right after a successful Verify: the facts Verify gathered
	// say whether a reboot is needed.
	var after *patchcheck.Facts
	p.Verify = func(ctx context.Context) error {
		after = patchcheck.Gather(ctx, env, opt.Check)
		return verify(ctx, env, after, opt, auto)
	}
	addCommit(p, func(ctx context.Context) error { return commitReboot(ctx, after.Reboot, opt) })
	if opt.Reboot == "allowed" {
		p.Notes = append(p.Notes, "If the updates need a reboot, one is scheduled at "+opt.Window.String()+" (patches.reboot: allowed).")
	} else {
		p.Notes = append(p.Notes, "vigie never reboots (patches.reboot: never): if the updates need one, patches.reboot-required says so.")
	}
	return p, nil
}

// securityUpdates splits the pending security updates into those to
// install and those held by the operator.
func securityUpdates(f *patchcheck.Facts, held map[string]bool) (install, kept []patchcheck.Update) {
	for _, u := range f.Updates {
		if !u.Security {
			continue
		}
		if held[u.Name] {
			kept = append(kept, u)
			continue
		}
		install = append(install, u)
	}
	return install, kept
}

func describe(u patchcheck.Update) string {
	s := u.Name
	if u.From != "" {
		s += " " + u.From + " -> " + u.To
	} else if u.To != "" {
		s += " " + u.To
	}
	if len(u.Archives) > 0 {
		s += " (" + strings.Join(u.Archives, ", ") + ")"
	}
	if len(u.Advisories) > 0 {
		s += " [" + strings.Join(u.Advisories, ", ") + "]"
	}
	return s
}

// verify reads the facts gathered again after the change: every security update not held is
// installed and, unless the plan said why not, automatic security updates
// are on.
func verify(ctx context.Context, env *host.Env, f *patchcheck.Facts, opt Options, auto bool) error {
	if f.UpdatesErr != "" {
		return fmt.Errorf("list updates again: %s", f.UpdatesErr)
	}
	held := heldSet(ctx, env, f, opt)
	var left []string
	for _, u := range f.Updates {
		if u.Security && !held[u.Name] {
			left = append(left, describe(u))
		}
	}
	var errs []error
	if len(left) > 0 {
		errs = append(errs, fmt.Errorf("security updates still pending: %s", strings.Join(left, "; ")))
	}
	if auto && !f.Auto.Enabled {
		msg := strings.Join(f.Auto.Problems, "; ")
		if f.Auto.Err != "" {
			msg = f.Auto.Err
		}
		errs = append(errs, fmt.Errorf("automatic security updates still off: %s", msg))
	}
	return errors.Join(errs...)
}

// heldSet names the packages the operator holds back, which a fix must
// not move.
func heldSet(ctx context.Context, env *host.Env, f *patchcheck.Facts, opt Options) map[string]bool {
	held := map[string]bool{}
	if f.Manager != "apt" {
		return held
	}
	out, err := env.Cmd.Run(ctx, "apt-mark", "showhold")
	if err != nil {
		return held
	}
	for _, l := range strings.Fields(string(out)) {
		name, _, _ := strings.Cut(l, ":")
		held[name] = true
	}
	return held
}

// commitReboot schedules a reboot when one is needed and allowed.
func commitReboot(ctx context.Context, r patchcheck.Reboot, opt Options) error {
	if opt.Reboot != "allowed" || !r.Required {
		return nil
	}
	when := opt.Window.ShutdownTime(time.Now())
	if _, err := opt.run(ctx, nil, "shutdown", "-r", when, "vigie: rebooting to run security updates"); err != nil {
		return fmt.Errorf("schedule the reboot: %w", err)
	}
	return nil
}

// Window is the daily time range a reboot may start in.
type Window struct {
	Start, End int // minutes after midnight, local time
}

// ParseWindow reads "HH:MM-HH:MM"; the range may wrap past midnight.
func ParseWindow(s string) (Window, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return Window{}, fmt.Errorf("%q is not HH:MM-HH:MM", s)
	}
	start, err := clock(a)
	if err != nil {
		return Window{}, err
	}
	end, err := clock(b)
	if err != nil {
		return Window{}, err
	}
	if start == end {
		return Window{}, fmt.Errorf("%q is an empty window", s)
	}
	return Window{Start: start, End: end}, nil
}

func clock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(h) != 2 || len(m) != 2 || hh > 23 || mm > 59 || hh < 0 || mm < 0 {
		return 0, fmt.Errorf("%q is not a time HH:MM", s)
	}
	return hh*60 + mm, nil
}

func hhmm(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

func (w Window) String() string { return hhmm(w.Start) + "-" + hhmm(w.End) }

// Contains reports whether t falls inside the window.
func (w Window) Contains(t time.Time) bool {
	m := t.Hour()*60 + t.Minute()
	if w.Start < w.End {
		return m >= w.Start && m < w.End
	}
	return m >= w.Start || m < w.End
}

// ShutdownTime is shutdown(8)'s time argument: in a minute when t is
// inside the window, else the window's next start.
func (w Window) ShutdownTime(t time.Time) string {
	if w.Contains(t) {
		return "+1"
	}
	return hhmm(w.Start)
}

// fileExists reports whether the inspected system has path.
func fileExists(env *host.Env, path string) bool {
	_, err := os.Stat(env.Path(path))
	return err == nil
}

func names(ups []patchcheck.Update) []string {
	out := make([]string, 0, len(ups))
	for _, u := range ups {
		if !slices.Contains(out, u.Name) {
			out = append(out, u.Name)
		}
	}
	return out
}

// short drops the command line from a command's error: the plan's action
// already names it.
func short(err error) error {
	var ce *remediations.CommandError
	if errors.As(err, &ce) {
		if ce.Message == "" {
			return ce.Err
		}
		return fmt.Errorf("%w: %s", ce.Err, ce.Message)
	}
	return err
}

// command is an action that runs one package manager command; its error
// carries the tool's own words.
func command(opt Options, env []string, name string, args ...string) remediations.Action {
	return remediations.Action{
		What: name + " " + strings.Join(args, " "),
		Do: func(ctx context.Context) error {
			_, err := opt.run(ctx, env, name, args...)
			return short(err)
		},
	}
}

// undoneBy gives an action the command that reverts it.
func undoneBy(a remediations.Action, undo remediations.Action) remediations.Action {
	a.Undo = undo.Do
	return a
}
