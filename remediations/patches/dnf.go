package patches

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"
	"github.com/vigie-agent/vigie/internal/atomicfile"

	patchcheck "github.com/vigie-agent/vigie/checks/patches"
	"github.com/vigie-agent/vigie/host/units"
	"github.com/vigie-agent/vigie/remediations"
)

// dnfAutomatic is where dnf-automatic lives for the dnf on the host: dnf5
// moved its configuration and renamed its package and timer.
type dnfAutomatic struct {
	Conf, Timer, Package, Binary string
}

func automaticFor(env *host.Env) dnfAutomatic {
	if fileExists(env, "/usr/bin/dnf5") || fileExists(env, "/etc/dnf/dnf5-plugins/automatic.conf") {
		return dnfAutomatic{Conf: "/etc/dnf/dnf5-plugins/automatic.conf", Timer: "dnf5-automatic.timer", Package: "dnf5-plugin-automatic", Binary: "/usr/lib/systemd/system/dnf5-automatic.timer"}
	}
	return dnfAutomatic{Conf: "/etc/dnf/automatic.conf", Timer: "dnf-automatic.timer", Package: "dnf-automatic", Binary: "/usr/bin/dnf-automatic"}
}

func planDnf(ctx context.Context, env *host.Env, f *patchcheck.Facts, opt Options, p *remediations.Plan, auto *bool) error {
	install, _ := securityUpdates(f, nil)
	if len(install) > 0 {
		p.Notes = append(p.Notes, "Security updates to install (dnf upgrade --security installs the packages of every security advisory):")
		for _, u := range install {
			p.Notes = append(p.Notes, "  "+describe(u))
		}
		p.Notes = append(p.Notes, "Installed upgrades are not rolled back if a later step fails (dnf history undo can, by hand).")
		p.Actions = append(p.Actions, command(opt, nil, "dnf", "-y", "-q", "upgrade", "--security"))
	}
	if f.Auto.Enabled {
		return nil
	}
	a := automaticFor(env)
	set := map[string]string{"upgrade_type": "security", "apply_updates": "yes"}
	if opt.Reboot == "allowed" {
		set["reboot"] = "when-needed"
		set["reboot_command"] = strconv.Quote("shutdown -r " + hhmm(opt.Window.Start) + " 'vigie: rebooting to run security updates'")
	}
	why := "dnf-automatic applies security updates, and only those"
	if fileExists(env, a.Binary) {
		old, err := env.ReadFile(ctx, a.Conf, hostfs.Config)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("patches: read %w", err)
		}
		fc := remediations.FileChange{Path: env.Path(a.Conf), Content: SetINI(old, "commands", set), Mode: 0o644, Why: why}
		if remediations.Changed(fc) {
			p.Files = append(p.Files, fc)
		}
	} else {
		// The package brings its own automatic.conf: install it first and
		// edit what it installed, so rpm neither keeps its default aside
		// as .rpmnew nor saves vigie's edit as .rpmsave on removal.
		conf := env.Path(a.Conf)
		var packaged []byte
		install := undoneBy(command(opt, nil, "dnf", "-y", "-q", "install", a.Package), command(opt, nil, "dnf", "-y", "-q", "remove", a.Package))
		install.What = "dnf -y install " + a.Package
		p.Actions = append(p.Actions, install, remediations.Action{
			What: "set " + strings.Join(sortedKeys(set), ", ") + " in [commands] of " + a.Conf + " (" + why + ")",
			Do: func(ctx context.Context) error {
				b, err := hostfs.ReadFile(ctx, conf, hostfs.Config)
				if err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
				packaged = b
				return atomicfile.Write(conf, SetINI(b, "commands", set), 0o644)
			},
			Undo: func(ctx context.Context) error {
				if packaged == nil {
					return os.Remove(conf)
				}
				return atomicfile.Write(conf, packaged, 0o644)
			},
		})
	}
	states, _ := units.States(ctx, env, []string{a.Timer})
	if states[a.Timer] != "enabled" {
		*auto = enableUnits(p, opt, []string{a.Timer}, states)
	}
	return nil
}

// SetINI sets keys in one section of an INI file and keeps everything
// else as it was: comments, other sections, the order of lines. A key
// already set (or commented out as "# key = ...") is replaced in place;
// others are added at the end of the section, which is created if absent.
func SetINI(in []byte, section string, set map[string]string) []byte {
	var out []string
	done := map[string]bool{}
	cur, inSection, sawSection := "", false, false
	flush := func() {
		if !inSection {
			return
		}
		// Keys not found go before the section's trailing blank lines.
		end := len(out)
		for end > 0 && strings.TrimSpace(out[end-1]) == "" {
			end--
		}
		tail := append([]string(nil), out[end:]...)
		out = out[:end]
		for _, k := range sortedKeys(set) {
			if !done[k] {
				out = append(out, k+" = "+set[k])
				done[k] = true
			}
		}
		out = append(out, tail...)
	}
	sc := bufio.NewScanner(bytes.NewReader(in))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			flush()
			cur = strings.TrimSpace(t[1 : len(t)-1])
			inSection = cur == section
			sawSection = sawSection || inSection
			out = append(out, line)
			continue
		}
		if inSection {
			key := t
			if strings.HasPrefix(key, "#") || strings.HasPrefix(key, ";") {
				key = strings.TrimSpace(key[1:])
			}
			if k, _, ok := strings.Cut(key, "="); ok {
				k = strings.TrimSpace(k)
				if v, want := set[k]; want {
					if !done[k] {
						out = append(out, k+" = "+v)
						done[k] = true
					} else if !strings.HasPrefix(t, "#") && !strings.HasPrefix(t, ";") {
						out = append(out, "# "+line+" (vigie: set above)")
					} else {
						out = append(out, line)
					}
					continue
				}
			}
		}
		out = append(out, line)
	}
	flush()
	if !sawSection {
		if len(out) > 0 && strings.TrimSpace(out[len(out)-1]) != "" {
			out = append(out, "")
		}
		out = append(out, "["+section+"]")
		for _, k := range sortedKeys(set) {
			out = append(out, k+" = "+set[k])
		}
	}
	return []byte(strings.Join(out, "\n") + "\n")
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// zypper exit codes that mean success (man zypper): 102 a reboot is
// needed, 103 zypper updated itself and must run again.
const (
	zypperRebootNeeded = 102
	zypperRestart      = 103
)

func planZypper(f *patchcheck.Facts, opt Options, p *remediations.Plan) error {
	install, _ := securityUpdates(f, nil)
	p.Refusals = append(p.Refusals, "automatic updates on zypper hosts: vigie does not configure them; enable a timer running `zypper patch --category security` by hand")
	if len(install) == 0 {
		return nil
	}
	p.Notes = append(p.Notes, "Security patches to install:")
	for _, u := range install {
		p.Notes = append(p.Notes, "  "+describe(u))
	}
	p.Notes = append(p.Notes, "Installed patches are not rolled back if a later step fails.")
	env := []string{"ZYPP_LOCK_TIMEOUT=" + strconv.Itoa(int(opt.LockTimeout.Seconds()))}
	args := []string{"--non-interactive", "patch", "--category", "security"}
	p.Actions = append(p.Actions, remediations.Action{
		What: "zypper " + strings.Join(args, " "),
		Do: func(ctx context.Context) error {
			for range 2 {
				_, err := opt.run(ctx, env, "zypper", args...)
				switch host.ExitCode(err) {
				case zypperRestart:
					continue
				case zypperRebootNeeded:
					return nil
				}
				return short(err)
			}
			return nil
		},
	})
	return nil
}
