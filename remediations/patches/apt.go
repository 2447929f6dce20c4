package patches

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	patchcheck "github.com/vigie-agent/vigie/checks/patches"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/units"
	"github.com/vigie-agent/vigie/remediations"
)

// aptEnv keeps apt and dpkg from asking anything: a remediation runs
// without a terminal, from cloud-init or a timer.
var aptEnv = []string{"DEBIAN_FRONTEND=noninteractive", "APT_LISTCHANGES_FRONTEND=none"}

// aptInstallArgs are the options of every apt-get install vigie runs: wait
// for the dpkg lock instead of failing, keep the operator's changed
// configuration files.
func aptInstallArgs(opt Options) []string {
	secs := int(opt.LockTimeout.Seconds())
	if secs < 0 {
		secs = 0
	}
	return []string{"install", "-y", "-q", "--only-upgrade",
		"-o", "DPkg::Lock::Timeout=" + strconv.Itoa(secs),
		"-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"}
}

var aptTimers = []string{"apt-daily.timer", "apt-daily-upgrade.timer"}

func planApt(ctx context.Context, env *host.Env, f *patchcheck.Facts, opt Options, p *remediations.Plan, auto *bool) error {
	held := heldSet(ctx, env, f, opt)
	install, kept := securityUpdates(f, held)
	for _, u := range kept {
		p.Refusals = append(p.Refusals, "security update of "+describe(u)+": the package is held (apt-mark hold); vigie does not override a hold")
	}
	if len(install) > 0 {
		native := ""
		if out, err := env.Cmd.Run(ctx, "dpkg", "--print-architecture"); err == nil {
			native = strings.TrimSpace(string(out))
		}
		var targets []string
		for _, u := range install {
			name := u.Name
			if u.Arch != "" && u.Arch != "all" && u.Arch != native {
				name += ":" + u.Arch
			}
			targets = append(targets, name+"="+u.To)
		}
		// apt decides what else moves (new dependencies): ask it, show it,
		// and refuse an upgrade that would remove anything.
		sim, err := env.Cmd.Run(ctx, "apt-get", append([]string{"-s", "-o", "Debug::NoLocking=1", "install", "--only-upgrade"}, targets...)...)
		if err != nil {
			return fmt.Errorf("patches: simulate the security upgrade: %w", err)
		}
		changes, removals, err := simulated(sim)
		if err != nil {
			return fmt.Errorf("patches: %w", err)
		}
		if len(removals) > 0 {
			p.Refusals = append(p.Refusals, "the security upgrade would remove "+strings.Join(removals, ", ")+": upgrade by hand (apt-get install --only-upgrade "+strings.Join(targets, " ")+")")
		} else {
			p.Notes = append(p.Notes, "Security updates to install:")
			for _, u := range install {
				p.Notes = append(p.Notes, "  "+describe(u))
			}
			if extra := extraChanges(changes, install); len(extra) > 0 {
				p.Notes = append(p.Notes, "apt also installs or upgrades, as the updates depend on them: "+strings.Join(extra, ", "))
			}
			p.Notes = append(p.Notes, "Installed upgrades are not rolled back if a later step fails: apt cannot downgrade to versions the archive may no longer hold.")
			p.Actions = append(p.Actions, command(opt, aptEnv, "apt-get", append(aptInstallArgs(opt), targets...)...))
		}
	}
	if f.Auto.Enabled {
		return nil
	}
	if f.Auto.Err != "" {
		return fmt.Errorf("patches: cannot tell whether automatic updates are on: %s", f.Auto.Err)
	}
	if !fileExists(env, "/usr/bin/unattended-upgrade") {
		lock := "DPkg::Lock::Timeout=" + strconv.Itoa(int(opt.LockTimeout.Seconds()))
		p.Actions = append(p.Actions, undoneBy(
			command(opt, aptEnv, "apt-get", "install", "-y", "-q", "-o", lock, "unattended-upgrades"),
			command(opt, aptEnv, "apt-get", "remove", "-y", "-q", "-o", lock, "unattended-upgrades")))
	}
	fc := remediations.FileChange{Path: env.Path(opt.AptConf), Content: aptConf(f.OS, opt), Mode: 0o644,
		Why: "unattended-upgrades installs security updates daily, and only those"}
	if remediations.Changed(fc) {
		p.Files = append(p.Files, fc)
	}
	p.Validate = func(ctx context.Context) error {
		// A syntax error in apt.conf.d breaks every apt command: prove
		// apt still reads its configuration before anything else runs.
		out, err := env.Cmd.Run(ctx, "apt-config", "dump")
		if err != nil {
			return err
		}
		cfg, err := patchcheck.ParseAptConfig(out)
		if err != nil {
			return err
		}
		for _, o := range cfg.Lists["Unattended-Upgrade::Origins-Pattern"] {
			if strings.Contains(o, "-security") {
				return nil
			}
		}
		return fmt.Errorf("apt-config dump shows no security origin after writing %s", opt.AptConf)
	}
	states, _ := units.States(ctx, env, aptTimers)
	var off []string
	for _, u := range aptTimers {
		if st := states[u]; st != "enabled" && st != "static" {
			off = append(off, u)
		}
	}
	*auto = enableUnits(p, opt, off, states)
	return nil
}

// enableUnits asks the engine to enable and start the timers, which it
// reverses on rollback and undo. A masked unit is an operator's decision:
// it is reported, not unmasked. It returns false when some timer stays
// off.
func enableUnits(p *remediations.Plan, opt Options, names []string, states map[string]string) bool {
	var todo []string
	ok := true
	for _, n := range names {
		if states[n] == "masked" {
			p.Refusals = append(p.Refusals, n+" is masked: vigie does not unmask what an operator masked; automatic updates stay off until `systemctl unmask "+n+"`")
			ok = false
			continue
		}
		todo = append(todo, n)
	}
	if len(todo) == 0 {
		return ok
	}
	if !opt.Systemd {
		p.Refusals = append(p.Refusals, "enable "+strings.Join(todo, ", ")+": no systemd to ask; enable by hand")
		return false
	}
	for _, n := range todo {
		p.Enable = append(p.Enable, remediations.EnableUnit{Name: n, Start: true, Why: "runs the automatic security updates"})
	}
	return ok
}

// addCommit chains a commit step after the plan's existing ones.
func addCommit(p *remediations.Plan, fn func(context.Context) error) {
	prev := p.Commit
	p.Commit = func(ctx context.Context) error {
		if prev != nil {
			if err := prev(ctx); err != nil {
				return err
			}
		}
		return fn(ctx)
	}
}

// simulated reads `apt-get -s install` output: every package it would
// install or upgrade, and every package it would remove.
func simulated(out []byte) (changes []patchcheck.Update, removals []string, err error) {
	changes, err = patchcheck.ParseSimulate(out)
	if err != nil {
		return nil, nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Remv "); ok {
			name, _, _ := strings.Cut(rest, " ")
			removals = append(removals, name)
		}
	}
	return changes, removals, sc.Err()
}

func extraChanges(changes, planned []patchcheck.Update) []string {
	want := names(planned)
	var out []string
	for _, c := range changes {
		if !slices.Contains(want, c.Name) {
			out = append(out, describe(c))
		}
	}
	return out
}

// aptConf is vigie's unattended-upgrades configuration. "#clear" drops the
// origins earlier files set, so only the security archives remain whatever
// 50unattended-upgrades says; apt.conf.d is read in lexical order and this
// file sorts last.
func aptConf(os patchcheck.OSRelease, opt Options) []byte {
	var b strings.Builder
	b.WriteString("// Written by vigie fix: install security updates every day, and only those.\n")
	b.WriteString("// `vigie undo` restores the previous state; edit vigie.yaml rather than this file.\n")
	b.WriteString("APT::Periodic::Update-Package-Lists \"1\";\n")
	b.WriteString("APT::Periodic::Unattended-Upgrade \"1\";\n")
	b.WriteString("#clear Unattended-Upgrade::Origins-Pattern;\n")
	b.WriteString("#clear Unattended-Upgrade::Allowed-Origins;\n")
	b.WriteString("Unattended-Upgrade::Origins-Pattern {\n")
	for _, o := range securityOrigins(os) {
		fmt.Fprintf(&b, "\t%q;\n", o)
	}
	b.WriteString("};\n")
	if opt.Reboot == "allowed" {
		b.WriteString("Unattended-Upgrade::Automatic-Reboot \"true\";\n")
		fmt.Fprintf(&b, "Unattended-Upgrade::Automatic-Reboot-Time %q;\n", hhmm(opt.Window.Start))
	} else {
		b.WriteString("Unattended-Upgrade::Automatic-Reboot \"false\";\n")
	}
	return []byte(b.String())
}

// securityOrigins are the origin patterns of each distribution's security
// archive, as their own 50unattended-upgrades writes them.
func securityOrigins(os patchcheck.OSRelease) []string {
	if os.ID == "ubuntu" || slices.Contains(os.Like, "ubuntu") {
		return []string{
			"origin=Ubuntu,archive=${distro_codename}-security",
			"origin=UbuntuESMApps,archive=${distro_codename}-apps-security",
			"origin=UbuntuESM,archive=${distro_codename}-infra-security",
		}
	}
	return []string{
		"origin=Debian,codename=${distro_codename},label=Debian-Security",
		"origin=Debian,codename=${distro_codename}-security,label=Debian-Security",
	}
}
