package logging

import (
	"cmp"
	"strings"

	"github.com/vigie-agent/vigie/checks"
)

// StartsAtBoot reports whether one of the daemon's units is enabled: on an
// image, where nothing runs, that is what says it will run.
func (s Service) StartsAtBoot() bool {
	for _, u := range s.Units {
		if s.Enabled[u] == "enabled" {
			return true
		}
	}
	return false
}

// AtBoot says what the image's unit files say of the daemon.
func (s Service) AtBoot() string {
	var parts []string
	for _, u := range s.Units {
		if st := s.Enabled[u]; st != "" {
			parts = append(parts, u+" "+st)
		}
	}
	if len(parts) == 0 {
		return "not installed in the image (no unit " + strings.Join(s.Units, ", ") + ")"
	}
	return strings.Join(parts, ", ")
}

func bootEvidence(s Service, via Services) checks.Evidence {
	return checks.Evidence{Subject: s.Name, Key: "enabled", Value: s.AtBoot(), Want: "enabled: started at boot", Source: cmp.Or(via.EnabledVia, "unit files"), OK: s.StartsAtBoot()}
}

// imageAuditRule judges an image's audit daemon by its units: enabled, it
// starts at every boot of an instance made from the image.
func imageAuditRule(s Services) checks.Result {
	a := s.Audit
	if a.StartsAtBoot() {
		return checks.Passf("auditd starts at boot: %s in the image", a.AtBoot()).With(bootEvidence(a, s))
	}
	return checks.Failf("auditd does not start at boot: %s", a.AtBoot()).With(bootEvidence(a, s))
}

// imageTimeSyncRule judges an image's time synchronisation by its units:
// exactly one daemon must start at boot. Whether it reaches a time server
// shows only on a running instance.
func imageTimeSyncRule(s Services) checks.Result {
	var ev []checks.Evidence
	var starts []string
	for _, t := range s.Time {
		if t.StartsAtBoot() {
			starts = append(starts, t.Name+" ("+t.AtBoot()+")")
		}
		if len(t.Enabled) > 0 {
			ev = append(ev, bootEvidence(t, s))
		}
	}
	switch len(starts) {
	case 0:
		return checks.Failf("no time synchronisation daemon starts at boot: none of systemd-timesyncd, chrony, ntpd or OpenNTPD is enabled in the image").With(ev...)
	case 1:
		return checks.Passf("%s starts at boot; whether it reaches a time server shows only on a running instance", starts[0]).With(ev...)
	}
	return checks.Failf("%d time synchronisation daemons start at boot and would fight over the clock: %s", len(starts), strings.Join(starts, "; ")).With(ev...)
}
