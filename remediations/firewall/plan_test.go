package firewall

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	fwcheck "github.com/vigie-agent/vigie/checks/firewall"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/internal/netnstest"
	"github.com/vigie-agent/vigie/remediations"
)

// testHost is a server namespace joined to a client namespace by veth, with a
// foreign table that vigie must leave alone.
type testHost struct {
	server, client *netnstest.NS
	dir            string
	opt            Options
	env            *host.Env
}

func newHost(t *testing.T) *testHost {
	t.Helper()
	h := &testHost{server: netnstest.New(t), client: netnstest.New(t), dir: t.TempDir()}
	netnstest.Link(t, h.server, "10.199.0.1/24", h.client, "10.199.0.2/24")
	h.server.Listen(t, "10.199.0.1:2222") // the "sshd"
	h.server.Listen(t, "10.199.0.1:8080") // a service nobody allowed
	h.server.Load(t, "table ip foreign {\n\tchain c {\n\t\ttype filter hook output priority 0; policy accept;\n\t\tcounter\n\t}\n}\n")
	pid := h.server.Member(t)
	check := fwcheck.DefaultOptions()
	check.NetNS = h.server.Path
	check.NetDir = "/proc/" + strconv.Itoa(pid)
	check.CmdPrefix = h.server.Prefix()
	h.opt = Options{
		Check:        check,
		SSHPorts:     []int{2222},
		PersistFile:  filepath.Join(h.dir, "etc/vigie/vigie.nft"),
		NftablesConf: filepath.Join(h.dir, "etc/nftables.conf"),
	}
	if err := os.MkdirAll(filepath.Join(h.dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Debian's nftables.conf as shipped.
	conf := "#!/usr/sbin/nft -f\n\nflush ruleset\n\ntable inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter;\n\t}\n}\n"
	if err := os.WriteFile(h.opt.NftablesConf, []byte(conf), 0o755); err != nil {
		t.Fatal(err)
	}
	h.env = host.DefaultEnv()
	return h
}

func (h *testHost) plan(t *testing.T) *remediations.Plan {
	t.Helper()
	f := fwcheck.Gather(context.Background(), h.env, h.opt.Check)
	p, err := BuildPlan(context.Background(), h.env, f, h.opt)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (h *testHost) tables(t *testing.T) string {
	t.Helper()
	out, err := h.server.Exec("nft", "list", "tables")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestFixDefaultDeny(t *testing.T) {
	h := newHost(t)
	if err := h.client.Dial("10.199.0.1:8080", time.Second); err != nil {
		t.Fatalf("before the fix 8080 should answer: %v", err)
	}
	p := h.plan(t)
	if len(p.Files) != 2 {
		t.Fatalf("plan: %d files, refusals %v", len(p.Files), p.Refusals)
	}
	e := &remediations.Engine{Dir: filepath.Join(h.dir, "state")}
	run, err := e.Apply(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.client.Dial("10.199.0.1:2222", 2*time.Second); err != nil {
		t.Errorf("the ssh port must stay open: %v", err)
	}
	if err := h.client.Dial("10.199.0.1:8080", time.Second); err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("8080 must be dropped (a timeout), got %v", err)
	}
	if tables := h.tables(t); !strings.Contains(tables, "table ip foreign") || !strings.Contains(tables, "table inet vigie") {
		t.Errorf("tables after the fix:\n%s", tables)
	}
	// The persisted file loads, in a scratch namespace, to the same verdict.
	rs, loadErr := loadFile(t, h.opt.NftablesConf)
	if loadErr != "" {
		t.Fatalf("persisted configuration does not load: %s", loadErr)
	}
	for _, fam := range []string{"ipv4", "ipv6"} {
		if !rs.Evaluate("input", fam).Deny() {
			t.Errorf("persisted ruleset not default-deny for %s", fam)
		}
	}
	// Running fix again changes nothing.
	if p2 := h.plan(t); !p2.Empty() {
		t.Errorf("second fix plans %d change(s)", len(p2.Files))
	}
	// undo: table gone, 8080 answers again, foreign table still there.
	if _, err := e.Undo(context.Background(), run, func(ctx context.Context, _ string) error { return p.Activate(ctx) }); err != nil {
		t.Fatal(err)
	}
	if tables := h.tables(t); strings.Contains(tables, "vigie") || !strings.Contains(tables, "foreign") {
		t.Errorf("tables after undo:\n%s", tables)
	}
	if err := h.client.Dial("10.199.0.1:8080", time.Second); err != nil {
		t.Errorf("after undo 8080 should answer again: %v", err)
	}
}

// TestFixNeverClosesSSH: with no sshd port known, nothing is applied.
func TestFixNeverClosesSSH(t *testing.T) {
	h := newHost(t)
	h.opt.SSHPorts = nil
	p := h.plan(t)
	if !p.Empty() || len(p.Refusals) == 0 || !strings.Contains(p.Refusals[0], "close every remote access") {
		t.Fatalf("plan %d files, refusals %v", len(p.Files), p.Refusals)
	}
}

// TestFixStopsBesideFirewalld: a host managed by firewalld is left to it.
func TestFixStopsBesideFirewalld(t *testing.T) {
	h := newHost(t)
	h.server.Load(t, "table inet firewalld {\n\tchain filter_INPUT {\n\t\ttype filter hook input priority 10; policy accept;\n\t\treject\n\t}\n}\n")
	p := h.plan(t)
	if !p.Empty() || len(p.Refusals) == 0 || !strings.Contains(p.Refusals[0], "firewalld manages") {
		t.Fatalf("plan %d files, refusals %v", len(p.Files), p.Refusals)
	}
}

func TestSpecTextRoundTrip(t *testing.T) {
	s := Spec{Ports: []Port{{"tcp", 22, "sshd"}, {"udp", 51820, "firewall.allowed_ports"}, {"tcp", 22, "dup"}}}
	got := portsOf([]byte(s.Text()))
	if len(got) != 2 || got[0] != (Port{"tcp", 22, "sshd"}) || got[1] != (Port{"udp", 51820, "firewall.allowed_ports"}) {
		t.Errorf("ports read back: %+v", got)
	}
	for _, bad := range []string{"22", "22/icmp", "0/tcp", "70000/udp"} {
		if _, err := ParsePort(bad, ""); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// loadFile loads a file with nft -f in a namespace of its own and reads
// the result back.
func loadFile(t *testing.T, path string) (*fwcheck.Ruleset, string) {
	t.Helper()
	ns := netnstest.New(t)
	if out, err := ns.Exec("nft", "-f", path); err != nil {
		return nil, string(out)
	}
	f := fwcheck.Gather(context.Background(), host.DefaultEnv(), fwcheck.Options{NetNS: ns.Path, NetDir: "/proc/" + strconv.Itoa(ns.Member(t)), NftPath: "/usr/sbin/nft"})
	if f.Ruleset == nil {
		return nil, f.RulesetErr
	}
	return f.Ruleset, ""
}
