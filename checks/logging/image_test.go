package logging

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/checks/checkstest"
	"github.com/vigie-agent/vigie/host/hosttest"
)

// TestImageUnits: on an image, what starts at boot (its unit symlinks)
// decides the audit and time checks. The process table the run is given
// holds auditd and chronyd: it is the machine's, not the image's, and
// counts for nothing; neither does a timesyncd marker in the image's /run.
func TestImageUnits(t *testing.T) {
	proc := hosttest.Tree(t, map[string]string{"101/comm": "auditd\n", "102/comm": "chronyd\n"})
	units := map[string]string{
		"lib/systemd/system/auditd.service":            "",
		"lib/systemd/system/systemd-timesyncd.service": "",
		"lib/systemd/system/chrony.service":            "",
		"run/systemd/timesync/synchronized":            "",
		"var/log/journal/.keep":                        "",
	}
	tests := []struct {
		name        string
		enabled     []string
		audit, time checks.Status
		reasons     []string
	}{
		{"nothing enabled", nil, checks.Fail, checks.Fail, []string{"auditd does not start at boot: auditd.service disabled", "no time synchronisation daemon starts at boot"}},
		{"auditd and timesyncd", []string{"multi-user.target.wants/auditd.service", "sysinit.target.wants/systemd-timesyncd.service"}, checks.Pass, checks.Pass,
			[]string{"auditd starts at boot: auditd.service enabled in the image", "systemd-timesyncd (systemd-timesyncd.service enabled) starts at boot; whether it reaches a time server shows only on a running instance"}},
		{"two time daemons", []string{"sysinit.target.wants/systemd-timesyncd.service", "multi-user.target.wants/chrony.service"}, checks.Fail, checks.Fail,
			[]string{"2 time synchronisation daemons start at boot and would fight over the clock"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := hosttest.Env(t, units)
			env.Image, env.Proc = true, proc
			for _, l := range tt.enabled {
				p := filepath.Join(env.Root, "etc/systemd/system", l)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("/lib/systemd/system/"+filepath.Base(l), p); err != nil {
					t.Fatal(err)
				}
			}
			got := checkstest.ByID(New(Options{}).Run(context.Background(), env))
			checkstest.Expect(t, got[IDAudit], checkstest.Want{Status: tt.audit})
			checkstest.Expect(t, got[IDTimeSync], checkstest.Want{Status: tt.time})
			checkstest.Expect(t, got[IDJournaldPersistent], checkstest.Want{Status: checks.Pass, Reason: []string{"Storage=auto", "/var/log/journal exists"}})
			both := got[IDAudit].Reason + "\n" + got[IDTimeSync].Reason
			for _, r := range tt.reasons {
				if !strings.Contains(both, r) {
					t.Errorf("no reason holds %q:\n%s", r, both)
				}
			}
		})
	}
}
