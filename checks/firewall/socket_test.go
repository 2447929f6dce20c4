package firewall

import (
	"net"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host/units"
)

// TestExposureSSHSocket: PID 1 listening on ssh.socket's port is sshd's
// way in, not an unknown service; on another port, or while the socket is
// stopped, it is judged like any listener.
func TestExposureSSHSocket(t *testing.T) {
	held := []Listener{
		{Proto: "tcp", Addr: net.IPv6unspecified, Port: 2222, Process: "systemd", PID: 1},
		{Proto: "tcp", Addr: net.IPv4zero, Port: 2222, Process: "systemd", PID: 1},
	}
	other := Listener{Proto: "tcp", Addr: net.IPv4zero, Port: 8080, Process: "systemd", PID: 1}
	notPID1 := Listener{Proto: "tcp", Addr: net.IPv4zero, Port: 2222, Process: "nc", PID: 4242}
	socket := func(state string, addrs ...string) *units.Socket {
		s := &units.Socket{Unit: "ssh.socket", Via: units.ViaDBus, ActiveState: state, FileState: "enabled"}
		for _, a := range addrs {
			s.Listen = append(s.Listen, units.Listen{Type: "Stream", Address: a})
		}
		return s
	}
	deny := denyRuleset(
		&Rule{Conds: []Cond{{Field: "meta l4proto", Op: "==", Value: "tcp"}, {Field: "th dport", Op: "==", Value: "2222"}}, Verdict: VAccept},
	)
	for _, tt := range []struct {
		name      string
		rs        *Ruleset
		sock      *units.Socket
		listeners []Listener
		status    checks.Status
		bad       string
	}{
		{"no firewall, debian's ListenStream=2222", &Ruleset{}, socket("active", "[::]:2222"), held, checks.Pass, ""},
		{"no firewall, ubuntu's two addresses", &Ruleset{}, socket("active", "0.0.0.0:2222", "[::]:2222"), held, checks.Pass, ""},
		{"no firewall, bare port read from files", &Ruleset{}, &units.Socket{Unit: "ssh.socket", Via: units.ViaFiles, FileState: "enabled", Listen: []units.Listen{{Type: "Stream", Address: "2222"}}}, held, checks.Pass, ""},
		{"default deny accepting 2222", deny, socket("active", "[::]:2222"), held, checks.Pass, ""},
		{"no socket unit", &Ruleset{}, nil, held, checks.Fail, "tcp [::]:2222 (systemd, pid 1)"},
		{"socket stopped", &Ruleset{}, socket("inactive", "[::]:2222"), held, checks.Fail, "tcp [::]:2222 (systemd, pid 1)"},
		{"socket on another address", &Ruleset{}, socket("active", "192.0.2.1:2222"), held, checks.Fail, "tcp 0.0.0.0:2222 (systemd, pid 1)"},
		{"PID 1 on another port", &Ruleset{}, socket("active", "[::]:2222"), append(held, other), checks.Fail, "tcp 0.0.0.0:8080 (systemd, pid 1)"},
		{"another process on the socket's port", &Ruleset{}, socket("active", "2222"), []Listener{notPID1}, checks.Fail, "tcp 0.0.0.0:2222 (nc, pid 4242)"},
	} {
		f := &Facts{Ruleset: tt.rs, Listeners: tt.listeners, Allowed: map[string]bool{}, Forwarding: map[string]bool{}, SSHSocket: tt.sock}
		r := exposedRule(f)
		if r.Status != tt.status || !strings.Contains(r.Reason, tt.bad) {
			t.Errorf("%s: %s %q, want %s with %q", tt.name, r.Status, r.Reason, tt.status, tt.bad)
			continue
		}
		if tt.status == checks.Pass {
			for _, e := range r.Evidence {
				if e.Value == true && !strings.Contains(e.Want, "open on purpose: sshd through ssh.socket") {
					t.Errorf("%s: %s: %q", tt.name, e.Subject, e.Want)
				}
			}
		}
	}
}
