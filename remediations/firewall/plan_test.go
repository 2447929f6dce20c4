package firewall

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	fwcheck "github.com/vigie-agent/vigie/checks/firewall"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/internal/netnstest"
	"github.com/vigie-agent/vigie/internal/unitstest"
	"github.com/vigie-agent/vigie/remediations"
)

// testHost is a server namespace joined to a client namespace by veth, with a
// foreign table that vigie must leave alone, and a tree under dir for the
// files vigie writes and the units it enables.
type testHost struct {
	server, client *netnstest.NS
	dir            string
	conf           string // Debian's nftables.conf, which vigie leaves alone
	opt            Options
	env            *host.Env
	units          *unitstest.Root
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
	h.units = &unitstest.Root{Dir: h.dir}
	h.opt = Options{
		Check:       check,
		SSHPorts:    []int{2222},
		PersistFile: filepath.Join(h.dir, "etc/vigie/vigie.nft"),
		UnitFile:    filepath.Join(h.dir, UnitFile),
		Units:       h.units,
	}
	h.conf = filepath.Join(h.dir, "etc/nftables.conf")
	if err := os.MkdirAll(filepath.Join(h.dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.conf, []byte(debianConf), 0o755); err != nil {
		t.Fatal(err)
	}
	h.env = host.DefaultEnv()
	return h
}

// debianConf is Debian's nftables.conf as shipped.
const debianConf = "#!/usr/sbin/nft -f\n\nflush ruleset\n\ntable inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter;\n\t}\n}\n"

func (h *testHost) engine() *remediations.Engine {
	return &remediations.Engine{Dir: filepath.Join(h.dir, "state"), Units: h.units}
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
	var paths []string
	for _, fc := range p.Files {
		paths = append(paths, fc.Path)
	}
	if !slices.Equal(paths, []string{h.opt.PersistFile, h.opt.UnitFile}) || len(p.Refusals) != 0 {
		t.Fatalf("plan writes %q (refusals %v), want vigie.nft and the unit only", paths, p.Refusals)
	}
	if !slices.Equal(p.Enable, []remediations.EnableUnit{{Name: BootUnit, Start: true, Why: "loads " + h.opt.PersistFile + " at every boot"}}) {
		t.Errorf("units to enable: %+v", p.Enable)
	}
	e := h.engine()
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
	// Enabled at boot (sysinit.target wants it) and started; nftables.conf
	// and nftables.service left alone.
	if _, err := os.Lstat(filepath.Join(h.dir, "etc/systemd/system/sysinit.target.wants", BootUnit)); err != nil || !slices.Equal(h.units.Enabled(), []string{BootUnit}) {
		t.Errorf("%s not enabled at boot: %v (enabled: %v)", BootUnit, err, h.units.Enabled())
	}
	if b, _ := os.ReadFile(h.conf); string(b) != debianConf {
		t.Errorf("nftables.conf changed:\n%s", b)
	}
	// The unit loads the persisted file, which loads, in a scratch
	// namespace, to the same verdict.
	if unit, _ := os.ReadFile(h.opt.UnitFile); !bytes.Contains(unit, []byte("\nExecStart=/usr/sbin/nft -f "+h.opt.PersistFile+"\n")) {
		t.Errorf("unit:\n%s", unit)
	}
	rs, loadErr := loadFile(t, h.opt.PersistFile)
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
	// undo: unit disabled, stopped and gone with vigie.nft, table gone,
	// 8080 answers again, foreign table still there.
	h.units.Calls = nil
	if _, err := e.Undo(context.Background(), run, func(ctx context.Context, _ string) error { return p.Activate(ctx) }); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(h.units.Calls, ", "); got != "disable --now "+BootUnit || len(h.units.Enabled()) != 0 {
		t.Errorf("undo: calls %q, enabled %v", got, h.units.Enabled())
	}
	for _, f := range []string{h.opt.UnitFile, h.opt.PersistFile} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s left after undo: %v", f, err)
		}
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

// TestFixLeavesRoutedTrafficAlone: a router namespace forwards a client's
// connections to a server behind it, with a foreign table on the forward
// hook (as Docker's). vigie's fix there keeps forward alone and says why,
// and the client still reaches the server; with firewall.forward: deny it
// drops forwarded traffic by default.
func TestFixLeavesRoutedTrafficAlone(t *testing.T) {
	client, router, server := netnstest.New(t), netnstest.New(t), netnstest.New(t)
	netnstest.Link(t, client, "10.198.1.2/24", router, "10.198.1.1/24")
	netnstest.Link(t, router, "10.198.2.1/24", server, "10.198.2.2/24")
	for _, step := range []struct {
		ns   *netnstest.NS
		argv []string
	}{
		{client, []string{"ip", "route", "add", "default", "via", "10.198.1.1"}},
		{server, []string{"ip", "route", "add", "default", "via", "10.198.2.1"}},
		{router, []string{"sysctl", "-qw", "net.ipv4.ip_forward=1"}},
	} {
		if out, err := step.ns.Exec(step.argv...); err != nil {
			t.Fatalf("%v: %v: %s", step.argv, err, out)
		}
	}
	router.Load(t, "table ip foreign {\n\tchain FORWARD {\n\t\ttype filter hook forward priority 0; policy accept;\n\t\tcounter\n\t}\n}\n")
	server.Listen(t, "10.198.2.2:8080")
	router.Listen(t, "10.198.1.1:2222") // the router's "sshd"
	if err := client.Dial("10.198.2.2:8080", time.Second); err != nil {
		t.Fatalf("before the fix the client should reach the server through the router: %v", err)
	}
	dir := t.TempDir()
	check := fwcheck.DefaultOptions()
	check.NetNS = router.Path
	check.NetDir = "/proc/" + strconv.Itoa(router.Member(t))
	check.CmdPrefix = router.Prefix()
	opt := Options{Check: check, SSHPorts: []int{2222}, PersistFile: filepath.Join(dir, "vigie.nft"), UnitFile: filepath.Join(dir, BootUnit)}
	env := host.DefaultEnv()
	apply := func(forward string) *remediations.Plan {
		t.Helper()
		opt.Forward = forward
		p, err := BuildPlan(context.Background(), env, fwcheck.Gather(context.Background(), env, check), opt)
		if err != nil {
			t.Fatal(err)
		}
		e := &remediations.Engine{Dir: filepath.Join(dir, "state-"+forward)}
		if _, err := e.Apply(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := apply("auto")
	// The namespace's own sysctl is not where vigie reads it from here
	// (/proc/PID has no sys/): the table is what tells.
	if !strings.Contains(strings.Join(p.Notes, " "), "Forwarded traffic left alone: this host routes (") || !strings.Contains(strings.Join(p.Notes, " "), "table ip foreign hooks forward (chain FORWARD))") {
		t.Errorf("the plan does not say why forward is left alone: %q", p.Notes)
	}
	if b, _ := os.ReadFile(opt.PersistFile); bytes.Contains(b, []byte("hook forward")) {
		t.Errorf("the persisted table hooks forward:\n%s", b)
	}
	if err := client.Dial("10.198.2.2:8080", time.Second); err != nil {
		t.Errorf("after the fix, forwarding is broken: %v", err)
	}
	if err := client.Dial("10.198.1.1:2222", time.Second); err != nil {
		t.Errorf("after the fix, the router's sshd is closed: %v", err)
	}
	apply("deny")
	if b, _ := os.ReadFile(opt.PersistFile); !bytes.Contains(b, []byte("hook forward priority filter; policy drop;")) {
		t.Errorf("with forward: deny the persisted table has no default-deny forward chain:\n%s", b)
	}
	if err := client.Dial("10.198.2.2:8080", 500*time.Millisecond); err == nil {
		t.Error("with forward: deny, a new forwarded connection still goes through")
	}
}

// TestRouting names every reason a host routes, and none on a plain host.
func TestRouting(t *testing.T) {
	foreign := &fwcheck.Table{Family: "ip", Name: "filter"}
	foreign.Chains = []*fwcheck.Chain{{Table: foreign, Name: "FORWARD", Hook: "forward"}}
	own := &fwcheck.Table{Family: "inet", Name: TableName}
	own.Chains = []*fwcheck.Chain{{Table: own, Name: "forward", Hook: "forward"}}
	out := &fwcheck.Table{Family: "inet", Name: "x"}
	out.Chains = []*fwcheck.Chain{{Table: out, Name: "o", Hook: "output"}}
	tests := []struct {
		name string
		f    *fwcheck.Facts
		want []string
	}{
		{"plain host", &fwcheck.Facts{Forwarding: map[string]bool{}, Ruleset: &fwcheck.Ruleset{Tables: []*fwcheck.Table{own, out}}}, nil},
		{"forwarding on", &fwcheck.Facts{Forwarding: map[string]bool{"ipv4": true, "ipv6": true}, Ruleset: &fwcheck.Ruleset{}}, []string{"ipv4 forwarding is on", "ipv6 forwarding is on"}},
		{"another table on forward", &fwcheck.Facts{Forwarding: map[string]bool{}, Ruleset: &fwcheck.Ruleset{Tables: []*fwcheck.Table{foreign, own}}}, []string{"table ip filter hooks forward (chain FORWARD)"}},
	}
	for _, tt := range tests {
		if got := routing(tt.f); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
