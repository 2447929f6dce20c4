package agent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/vigie-agent/vigie/checks"
	diskcheck "github.com/vigie-agent/vigie/checks/disks"
	fwcheck "github.com/vigie-agent/vigie/checks/firewall"
	patchcheck "github.com/vigie-agent/vigie/checks/patches"
	sshcheck "github.com/vigie-agent/vigie/checks/ssh"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/scaleway"
	"github.com/vigie-agent/vigie/host/units"
	"github.com/vigie-agent/vigie/internal/atomicfile"
	"github.com/vigie-agent/vigie/internal/printable"
	"github.com/vigie-agent/vigie/remediations"
	diskfix "github.com/vigie-agent/vigie/remediations/disks"
	fwfix "github.com/vigie-agent/vigie/remediations/firewall"
	patchfix "github.com/vigie-agent/vigie/remediations/patches"
	sshfix "github.com/vigie-agent/vigie/remediations/ssh"
)

// FixOptions are the flags of `vigie fix`.
type FixOptions struct {
	Only   []string
	DryRun bool
	Yes    bool
	Force  bool
	// AllowDestructive lets the disks remediation erase scratch
	// filesystems and swap to re-create them encrypted.
	AllowDestructive bool
	// Catalogue and Metadata are the run's, so the metadata API is asked
	// once per run; Fix builds them when nil.
	Catalogue *checks.Catalogue
	Metadata  *scaleway.Client
	Confirm   func(prompt string) bool // asks the operator; nil means no
	// Window, when positive, keeps an applied change only if the operator
	// confirms it within that time (the prompt, or `vigie fix --confirm`
	// from another session); otherwise it is undone. Used when the
	// operator may be cut off by the change itself: over SSH.
	Window time.Duration
	// Answer reads the operator's answer to the confirmation prompt.
	Answer func() <-chan bool
}

// remediable lists the areas `vigie fix` can change, in the order it
// changes them.
var remediable = []string{"ssh", "firewall", "patches", "disks"}

// Engine returns the remediation engine over the configured state
// directory.
func (c Config) Engine() *remediations.Engine {
	return &remediations.Engine{Dir: filepath.Join(c.StateDir, "backups")}
}

// activate reloads what an area's files configure, after an undo or the
// revert of an interrupted run.
func (c Config) activate(env *host.Env) func(ctx context.Context, area string) error {
	return func(ctx context.Context, area string) error {
		switch area {
		case "ssh":
			f := sshcheck.Gather(ctx, env, c.sshConfigOnly())
			return sshReloader(f)(ctx)
		case "firewall":
			opt := c.firewallFixOptions(env, nil, false)
			return fwfix.Sync(ctx, env.Path(opt.PersistFile), opt)
		case "patches":
			return nil // apt and dnf read their configuration at every run
		case "disks":
			return dbusSystemd{}.Reload(ctx)
		}
		return fmt.Errorf("no way to reactivate area %s", area)
	}
}

// Fix plans, shows and (when allowed) applies the remediations. It returns
// the exit status: 0 applied and verified or nothing to do, 1 a change failed
// and was rolled back, 2 vigie could not run.
func Fix(ctx context.Context, cfg Config, env *host.Env, out io.Writer, opt FixOptions) (int, error) {
	if opt.Catalogue == nil || opt.Metadata == nil {
		var err error
		if opt.Catalogue, opt.Metadata, err = NewCatalogue(cfg); err != nil {
			return 2, err
		}
	}
	areas := map[string]bool{}
	for _, o := range opt.Only {
		for _, a := range strings.Split(o, ",") {
			if a = strings.TrimSpace(a); a != "" {
				areas[a] = true
			}
		}
	}
	for a := range areas {
		if !slices.Contains(remediable, a) {
			return 2, configErrorf("fix: no remediation for %q (available: %s)", a, strings.Join(remediable, ", "))
		}
	}
	e := cfg.Engine()
	if !opt.DryRun {
		done, err := e.Recover(ctx, cfg.activate(env))
		for _, r := range done {
			fmt.Fprintf(out, "Reverted run %s, interrupted before it finished.\n", printable.Line(r, idMax))
		}
		if err != nil {
			return 1, err
		}
	}
	status := 0
	for _, area := range remediable {
		if len(areas) > 0 && !areas[area] {
			continue
		}
		p, err := buildPlan(ctx, cfg, env, area, opt)
		if err != nil {
			return 2, err
		}
		if err := ShowPlan(out, p); err != nil {
			return 2, err
		}
		if p.Empty() {
			continue
		}
		if opt.DryRun || (!opt.Yes && (opt.Confirm == nil || !opt.Confirm(fmt.Sprintf("Apply these %d change(s) to %s? [y/N] ", len(p.Files)+len(p.Actions), area)))) {
			fmt.Fprintf(out, "Not applied (dry run). `vigie fix --yes --only %s%s` applies it.\n", area, destructiveFlag(opt, area))
			continue
		}
		run, err := e.Apply(ctx, p)
		if err != nil {
			fmt.Fprintf(out, "%s: FAILED: %s\n", area, printable.Line(err.Error(), logLineMax))
			status = 1
			continue
		}
		switch area {
		case "disks":
			fmt.Fprintf(out, "%s: applied and verified (run %s; backups of crypttab and fstab in %s).\n", area, run, filepath.Join(e.Dir, run))
		case "patches":
			fmt.Fprintf(out, "%s: applied and verified (run %s; `vigie undo %s` reverts the configuration, not the upgrades).\n", area, run, run)
		default:
			fmt.Fprintf(out, "%s: applied and verified (run %s; `vigie undo %s` reverts it).\n", area, run, run)
		}
		showArea(ctx, cfg, opt.Catalogue, env, out, area)
		// Only a change to sshd or the firewall can cut the operator off;
		// the others are not undone for want of an answer.
		if opt.Window > 0 && (area == "ssh" || area == "firewall") && !confirmed(ctx, cfg, out, run, opt) {
			if _, err := e.Undo(ctx, run, cfg.activate(env)); err != nil {
				fmt.Fprintf(out, "%s: not confirmed, and the undo FAILED: %s\n", area, printable.Line(err.Error(), logLineMax))
			} else {
				fmt.Fprintf(out, "%s: not confirmed within %s: undone.\n", area, opt.Window)
			}
			status = 1
		}
	}
	return status, nil
}

// confirmed waits for the operator to keep run: an answer to the prompt,
// or the file `vigie fix --confirm` writes from another session.
func confirmed(ctx context.Context, cfg Config, out io.Writer, run string, opt FixOptions) bool {
	flag := filepath.Join(cfg.StateDir, "confirm-"+run)
	pending := filepath.Join(cfg.StateDir, "pending-confirm")
	// Atomic: a confirming session must never read a half-written run id.
	_ = atomicfile.Write(pending, []byte(run+"\n"), 0o600)
	defer os.Remove(pending)
	defer os.Remove(flag)
	fmt.Fprintf(out, "Keep this change? Answer y, or run `vigie fix --confirm` from another session, within %s; anything else undoes it. ", opt.Window)
	var answers <-chan bool
	if opt.Answer != nil {
		answers = opt.Answer()
	}
	deadline := time.NewTimer(opt.Window)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case ok := <-answers:
			return ok
		case <-tick.C:
			if _, err := os.Stat(flag); err == nil {
				fmt.Fprintln(out, "confirmed from another session.")
				return true
			}
		case <-deadline.C:
			fmt.Fprintln(out)
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// ConfirmPending confirms the change a `vigie fix` in another session is
// waiting on.
func ConfirmPending(cfg Config, out io.Writer) error {
	b, err := os.ReadFile(filepath.Join(cfg.StateDir, "pending-confirm"))
	if err != nil {
		return fmt.Errorf("no change is waiting for confirmation (%w)", err)
	}
	run := strings.TrimSpace(string(b))
	if run == "" || strings.ContainsAny(run, "/\x00") {
		return fmt.Errorf("no change is waiting for confirmation (%q)", run)
	}
	if err := os.WriteFile(filepath.Join(cfg.StateDir, "confirm-"+run), nil, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(out, "Run %s confirmed.\n", printable.Line(run, idMax))
	return nil
}

func buildPlan(ctx context.Context, cfg Config, env *host.Env, area string, opt FixOptions) (*remediations.Plan, error) {
	switch area {
	case "ssh":
		so := cfg.SSH.Options()
		f := sshcheck.Gather(ctx, env, so)
		return sshfix.BuildPlan(ctx, env, f, sshfix.Options{
			Check:   so,
			DropIn:  filepath.Join(filepath.Dir(so.ConfigPath), "sshd_config.d", "00-vigie.conf"),
			HostKey: filepath.Join(filepath.Dir(so.ConfigPath), "ssh_host_ed25519_key"),
			Force:   opt.Force,
			Reload:  sshReloader(f),
		})
	case "firewall":
		f := fwcheck.Gather(ctx, env, cfg.Firewall.Options())
		return fwfix.BuildPlan(ctx, env, f, cfg.firewallFixOptions(env, sshPorts(ctx, cfg, env, f), opt.Force))
	case "patches":
		po := cfg.Patches.Options()
		f := patchcheck.Gather(ctx, env, po)
		w, _ := patchfix.ParseWindow(cfg.Patches.RebootWindow) // validated with the configuration
		o := patchfix.Options{Check: po, Reboot: cfg.Patches.Reboot, Window: w, LockTimeout: cfg.Patches.LockTimeout}
		if liveSystemd(env) {
			o.EnableUnits = enableUnits
		}
		return patchfix.BuildPlan(ctx, env, f, o)
	case "disks":
		do := cfg.Disks.Options(opt.Metadata)
		f := diskcheck.Gather(ctx, env, do)
		o := diskfix.Options{AllowDestructive: opt.AllowDestructive, Check: do}
		if liveSystemd(env) {
			o.Systemd = dbusSystemd{}
		}
		return diskfix.BuildPlan(ctx, env, f, o)
	}
	return nil, fmt.Errorf("no remediation for %s", area)
}

// firewallFixOptions places vigie's ruleset file beside the distribution's
// nftables.conf (Debian) or sysconfig file (RHEL family).
func (c Config) firewallFixOptions(env *host.Env, ssh []int, force bool) fwfix.Options {
	conf := "/etc/nftables.conf"
	if _, err := os.Stat(env.Path(conf)); err != nil {
		if _, err := os.Stat(env.Path("/etc/sysconfig/nftables.conf")); err == nil {
			conf = "/etc/sysconfig/nftables.conf"
		}
	}
	o := fwfix.Options{
		Check:        c.Firewall.Options(),
		SSHPorts:     ssh,
		Allowed:      c.Firewall.AllowedPorts,
		PersistFile:  "/etc/vigie/vigie.nft",
		NftablesConf: conf,
		Force:        force,
	}
	if liveSystemd(env) {
		o.EnableService = enableNftables
	}
	return o
}

// sshConfigOnly reads sshd's configuration without probing the server:
// the ports and the pid file are all a reload or a ruleset needs.
func (c Config) sshConfigOnly() sshcheck.Options {
	o := c.SSH.Options()
	o.Probe = false
	return o
}

// sshPorts are the ports sshd serves: from its effective configuration and
// from the sockets sshd processes hold, so a port opened by hand or by
// socket activation is kept too.
func sshPorts(ctx context.Context, cfg Config, env *host.Env, f *fwcheck.Facts) []int {
	seen := map[int]bool{}
	var out []int
	add := func(p int) {
		if p > 0 && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sf := sshcheck.Gather(ctx, env, cfg.sshConfigOnly())
	for _, a := range sf.Global["listenaddress"] {
		if i := strings.LastIndexByte(a, ':'); i >= 0 {
			p, _ := strconv.Atoi(a[i+1:])
			add(p)
		}
	}
	for _, l := range f.Listeners {
		if l.Proto == "tcp" && strings.HasPrefix(l.Process, "sshd") {
			add(l.Port)
		}
	}
	return out
}

// enableNftables enables nftables.service so the ruleset is loaded at the
// next boot. It does not start it now: the unit's file begins with
// "flush ruleset", which would drop other tables of the running host.
func enableNftables(ctx context.Context) error {
	conn, err := units.Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, _, err := conn.EnableUnitFilesContext(ctx, []string{"nftables.service"}, false, true); err != nil {
		return fmt.Errorf("enable nftables.service: %w", err)
	}
	return conn.ReloadContext(ctx)
}

// ShowPlan prints a plan as a reviewer reads it: what will change and why,
// a unified diff per file (secret files by size only), the commands it
// will run, and what will not be changed. A plan quotes the host (disk
// labels, package names, the lines of the files it changes), so every
// line is escaped and bounded: the diff line by line, keeping its shape.
func ShowPlan(w io.Writer, p *remediations.Plan) error {
	fmt.Fprintf(w, "== %s: %d change(s)\n", printable.Line(p.Area, idMax), len(p.Files)+len(p.Actions))
	for _, r := range p.Refusals {
		fmt.Fprintf(w, "Not changed: %s\n", printable.Line(r, noteMax))
	}
	for _, n := range p.Notes {
		fmt.Fprintln(w, printable.Line(n, noteMax))
	}
	if len(p.Actions) > 0 {
		fmt.Fprintln(w, "\nSteps, run once the file changes below are written:")
		for i, a := range p.Actions {
			undo := ""
			if a.Undo == nil {
				undo = " (cannot be undone)"
			}
			fmt.Fprintf(w, "  %d. %s%s\n", i+1, printable.Line(a.What, noteMax), undo)
		}
	}
	for _, fc := range p.Files {
		fmt.Fprintf(w, "\n--- %s: %s\n", printable.Line(fc.Path, fileMax), printable.Line(fc.Why, noteMax))
		if fc.Mode&0o077 == 0 && fc.Mode != 0 {
			if _, err := os.Stat(fc.Path); err != nil {
				fmt.Fprintf(w, "(new secret file, mode %04o, %d bytes: content not shown)\n", fc.Mode, len(fc.Content))
				continue
			}
		}
		d, err := unifiedDiff(fc.Path, fc.Content)
		if err != nil {
			return err
		}
		fmt.Fprint(w, printableDiff(d))
	}
	return nil
}

// printableDiff escapes each line of a unified diff but the first two,
// the labels unifiedDiff wrote escaped. A line that starts with a
// backslash is diff's own "\ No newline at end of file" (a line of content
// starts with a space, + or -), and keeps its backslash.
func printableDiff(d string) string {
	if d == "" {
		return ""
	}
	lines := strings.Split(strings.TrimSuffix(d, "\n"), "\n")
	for i, l := range lines {
		if i < 2 && (strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "+++ ")) {
			continue
		}
		if rest, ok := strings.CutPrefix(l, `\ `); ok {
			lines[i] = `\ ` + printable.Line(rest, diffLineMax)
		} else {
			lines[i] = printable.Line(l, diffLineMax)
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// unifiedDiff runs diff -u between the file and its new content. The
// labels hold the path escaped: a newline in it would otherwise add a line
// of its choosing to the diff.
func unifiedDiff(path string, content []byte) (string, error) {
	tmp, err := os.CreateTemp("", "vigie-plan-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return "", err
	}
	tmp.Close()
	old := path
	if _, err := os.Stat(path); err != nil {
		old = "/dev/null"
	}
	label := printable.Line(path, fileMax)
	out, err := exec.Command("diff", "-u", "--label", label+" (now)", "--label", label+" (after fix)", old, tmp.Name()).Output()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
		err = nil // differences found
	}
	if err != nil {
		return "", fmt.Errorf("diff %s: %w", path, err)
	}
	return string(out), nil
}

// Undo restores a run (the newest applied one when run is "").
func Undo(ctx context.Context, cfg Config, env *host.Env, out io.Writer, run string) error {
	e := cfg.Engine()
	runs, err := e.Runs()
	if err != nil {
		return err
	}
	for _, r := range runs {
		if r.Run == run || run == "" && r.State == remediations.StateApplied {
			if r.Area == "disks" && r.State == remediations.StateApplied {
				// The clear filesystem or swap no longer exists: putting
				// the old fstab back would make the next boot look for it.
				return fmt.Errorf("run %s re-created disks encrypted; restoring its files would point fstab at filesystems that no longer exist. Edit /etc/crypttab and /etc/fstab by hand (backups in %s)", r.Run, filepath.Join(e.Dir, r.Run))
			}
			break
		}
	}
	m, err := e.Undo(ctx, run, cfg.activate(env))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Run %s (%s) undone: %d file(s) restored.\n", printable.Line(m.Run, idMax), printable.Line(m.Area, idMax), len(m.Files))
	if len(m.Actions) > 0 {
		// Upgrades stay installed; an encrypted scratch stays mounted until
		// the next boot, which follows the restored crypttab and fstab.
		fmt.Fprintf(out, "Not reverted by undo, as they were run: %s.\n", printable.Line(strings.Join(m.Actions, "; "), logLineMax))
	}
	return nil
}

// TTYConfirm asks on the terminal.
func TTYConfirm(in io.Reader, out io.Writer) func(string) bool {
	return func(prompt string) bool {
		fmt.Fprint(out, prompt)
		line, _ := bufio.NewReader(in).ReadString('\n')
		return isYes(line)
	}
}

// StdinAnswer reads one line from the terminal for the confirmation.
func StdinAnswer(in io.Reader) func() <-chan bool {
	return func() <-chan bool {
		ch := make(chan bool, 1)
		go func() {
			line, _ := bufio.NewReader(in).ReadString('\n')
			ch <- isYes(line)
		}()
		return ch
	}
}

func destructiveFlag(opt FixOptions, area string) string {
	if area == "disks" && opt.AllowDestructive {
		return " --allow-destructive"
	}
	return ""
}

// showArea prints the area's checks after a change: what the fix left
// (a reboot it did not do, a disk it would not touch).
func showArea(ctx context.Context, cfg Config, cat *checks.Catalogue, env *host.Env, out io.Writer, area string) {
	sel, err := selectChecks(cat, []string{area})
	if err != nil {
		return
	}
	for _, f := range RunChecks(ctx, cat, env, checks.Profiles[cfg.Profile], sel, cfg.Timeout) {
		fmt.Fprintf(out, "  %-5s %s: %s\n", printable.Line(string(f.Status), 16), printable.Line(f.ID, idMax), printable.Line(f.Reason, noteMax))
	}
}

// liveSystemd reports whether vigie changes the running system under a
// systemd it can ask (not a captured tree).
func liveSystemd(env *host.Env) bool {
	if !env.Live() {
		return false
	}
	_, err := os.Stat("/run/systemd/system")
	return err == nil
}

// enableUnits enables or disables units at boot through systemd's API,
// as systemctl enable does, and reloads so the timers are scheduled.
func enableUnits(ctx context.Context, names []string, enable bool) error {
	conn, err := units.Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if enable {
		if _, _, err := conn.EnableUnitFilesContext(ctx, names, false, true); err != nil {
			return fmt.Errorf("enable %s: %w", strings.Join(names, ", "), err)
		}
	} else if _, err := conn.DisableUnitFilesContext(ctx, names, false); err != nil {
		return fmt.Errorf("disable %s: %w", strings.Join(names, ", "), err)
	}
	if err := conn.ReloadContext(ctx); err != nil {
		return err
	}
	for _, n := range names {
		if err := startUnit(ctx, conn, n, enable); err != nil {
			return err
		}
	}
	return nil
}

// dbusSystemd asks systemd through its API, waiting for each job's end.
type dbusSystemd struct{}

func (dbusSystemd) Reload(ctx context.Context) error {
	conn, err := units.Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.ReloadContext(ctx)
}

func (dbusSystemd) Start(ctx context.Context, unit string) error { return unitJob(ctx, unit, true) }
func (dbusSystemd) Stop(ctx context.Context, unit string) error  { return unitJob(ctx, unit, false) }

func unitJob(ctx context.Context, unit string, start bool) error {
	conn, err := units.Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return startUnit(ctx, conn, unit, start)
}

func startUnit(ctx context.Context, conn *sddbus.Conn, unit string, start bool) error {
	ch := make(chan string, 1)
	verb := "start"
	var err error
	if start {
		_, err = conn.StartUnitContext(ctx, unit, "replace", ch)
	} else {
		verb = "stop"
		_, err = conn.StopUnitContext(ctx, unit, "replace", ch)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", verb, unit, err)
	}
	select {
	case res := <-ch:
		if res != "done" {
			return fmt.Errorf("%s %s: job %s (journalctl -u %s says why)", verb, unit, res, unit)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s %s: %w", verb, unit, ctx.Err())
	}
}

// isYes reads an operator's answer: y or yes, in any case.
func isYes(line string) bool {
	line = strings.TrimSpace(line)
	return strings.EqualFold(line, "y") || strings.EqualFold(line, "yes")
}

// sshReloader reloads the sshd these facts describe and waits for its
// listening addresses.
func sshReloader(f *sshcheck.Facts) func(context.Context) error {
	return sshfix.Reloader(f.Global.Get("pidfile"), sshcheck.ProbeTargets(f.Global["listenaddress"]))
}
