package patches

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"strings"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"

	"github.com/vigie-agent/vigie/host/units"
)

// aptAuto decides whether unattended-upgrades installs security updates:
// the tool installed, APT::Periodic asking for both the list refresh and the
// upgrade, its origins including a -security archive, and the apt timers
// enabled.
func aptAuto(ctx context.Context, env *host.Env, cfg AptConfig, cfgErr error) AutoUpdates {
	a := AutoUpdates{Tool: "unattended-upgrades"}
	if cfgErr != nil {
		a.Err = "apt-config dump: " + cfgErr.Error()
		return a
	}
	if _, err := os.Stat(env.Path("/usr/bin/unattended-upgrade")); err != nil {
		a.Problems = append(a.Problems, "unattended-upgrades is not installed")
	}
	for _, k := range []string{"APT::Periodic::Update-Package-Lists", "APT::Periodic::Unattended-Upgrade"} {
		v := cfg.Values[k]
		a.Details = append(a.Details, k+" = "+quoteOr(v)+" (apt-config)")
		if v == "" || v == "0" {
			a.Problems = append(a.Problems, k+" is "+quoteOr(v))
		}
	}
	var origins []string
	for _, k := range []string{"Unattended-Upgrade::Origins-Pattern", "Unattended-Upgrade::Allowed-Origins"} {
		for _, o := range cfg.Lists[k] {
			if o != "" {
				origins = append(origins, o)
			}
		}
	}
	for _, o := range origins {
		if strings.Contains(o, "-security") || strings.Contains(o, "Debian-Security") {
			a.Security = true
		}
	}
	a.Details = append(a.Details, "origins = "+strings.Join(origins, " | ")+" (apt-config)")
	if !a.Security {
		a.Problems = append(a.Problems, "no security origin in Unattended-Upgrade::Origins-Pattern or Allowed-Origins")
	}
	states, via := units.States(ctx, env, []string{"apt-daily.timer", "apt-daily-upgrade.timer"})
	for _, u := range []string{"apt-daily.timer", "apt-daily-upgrade.timer"} {
		st := states[u]
		a.Details = append(a.Details, u+" = "+quoteOr(st)+" ("+via+")")
		if st != "enabled" && st != "static" {
			a.Problems = append(a.Problems, u+" is "+quoteOr(st))
		}
	}
	a.Enabled = len(a.Problems) == 0
	return a
}

// dnfAuto decides whether dnf-automatic applies security updates: its timer
// enabled and automatic.conf applying updates of type security or default.
func dnfAuto(ctx context.Context, env *host.Env) AutoUpdates {
	a := AutoUpdates{Tool: "dnf-automatic"}
	timers := []string{"dnf-automatic.timer", "dnf-automatic-install.timer", "dnf5-automatic.timer"}
	states, via := units.States(ctx, env, timers)
	anyTimer := false
	for _, u := range timers {
		if st := states[u]; st != "" {
			a.Details = append(a.Details, u+" = "+st+" ("+via+")")
			anyTimer = anyTimer || st == "enabled"
		}
	}
	if !anyTimer {
		a.Problems = append(a.Problems, "no dnf-automatic timer is enabled")
	}
	conf := map[string]string{}
	for _, p := range []string{"/etc/dnf/automatic.conf", "/etc/dnf/dnf5-plugins/automatic.conf"} {
		if b, err := env.ReadFile(ctx, p, hostfs.Config); err == nil {
			conf = parseINI(b)
			a.Details = append(a.Details, "config "+p)
			break
		}
	}
	upType := conf["commands.upgrade_type"]
	if upType == "" {
		upType = "default"
	}
	apply := conf["commands.apply_updates"]
	a.Details = append(a.Details, "upgrade_type = "+upType, "apply_updates = "+quoteOr(apply))
	a.Security = upType == "security" || upType == "default"
	// dnf-automatic-install.timer installs whatever apply_updates says.
	if anyTimer && states["dnf-automatic-install.timer"] != "enabled" && !yes(apply) {
		a.Problems = append(a.Problems, "apply_updates is not yes: updates are only downloaded")
	}
	if !a.Security {
		a.Problems = append(a.Problems, "upgrade_type is "+upType)
	}
	a.Enabled = len(a.Problems) == 0
	return a
}

func yes(v string) bool {
	switch strings.ToLower(v) {
	case "yes", "true", "1", "on":
		return true
	}
	return false
}

func quoteOr(v string) string {
	if v == "" {
		return "unset"
	}
	return `"` + v + `"`
}

// parseINI reads section.key = value pairs.
func parseINI(b []byte) map[string]string {
	out := map[string]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || l[0] == '#' || l[0] == ';':
		case l[0] == '[' && strings.HasSuffix(l, "]"):
			section = strings.TrimSpace(l[1 : len(l)-1])
		default:
			if k, v, ok := strings.Cut(l, "="); ok {
				out[section+"."+strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	return out
}
