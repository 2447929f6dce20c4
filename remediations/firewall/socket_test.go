package firewall

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	fwcheck "github.com/vigie-agent/vigie/checks/firewall"
	"github.com/vigie-agent/vigie/host/units"
	"github.com/vigie-agent/vigie/remediations"
)

// TestFixKeepsSSHSocketOpen: no sshd process listens, only the socket unit
// (here the test's own listener on 2222 stands for PID 1's), and no area
// named the port: the socket's port alone keeps it open through the fix.
func TestFixKeepsSSHSocketOpen(t *testing.T) {
	h := newHost(t)
	f := fwcheck.Gather(context.Background(), h.env, h.opt.Check)
	if got := keepPorts(f, remediations.Request{}); len(got) != 0 {
		t.Fatalf("without a socket unit: keep %v, want nothing (no sshd process listens)", got)
	}
	f.SSHSocket = &units.Socket{Unit: "ssh.socket", Via: units.ViaDBus, ActiveState: "active", FileState: "enabled",
		Listen: []units.Listen{{Type: "Stream", Address: "[::]:2222"}, {Type: "Stream", Address: "/run/ssh-unix-local/socket"}}}
	ports := keepPorts(f, remediations.Request{KeepOpen: []int{22}})
	if !slices.Equal(ports, []int{22, 2222}) {
		t.Fatalf("keep %v, want [22 2222]", ports)
	}
	opt := h.opt
	opt.SSHPorts = ports
	p, err := BuildPlan(context.Background(), h.env, f, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Files) != 2 {
		t.Fatalf("plan: %d files, refusals %v", len(p.Files), p.Refusals)
	}
	if _, err := (&remediations.Engine{Dir: filepath.Join(h.dir, "state"), Units: h.units}).Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if err := h.client.Dial("10.199.0.1:2222", 2*time.Second); err != nil {
		t.Errorf("ssh.socket's port must stay open: %v", err)
	}
	if err := h.client.Dial("10.199.0.1:8080", time.Second); err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("8080 must be dropped (a timeout), got %v", err)
	}
}
