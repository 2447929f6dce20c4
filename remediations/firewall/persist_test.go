package firewall

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	fwcheck "github.com/vigie-agent/vigie/checks/firewall"
	"github.com/vigie-agent/vigie/internal/netnstest"
)

// TestPersistFileLoadsAlone loads vigie.nft as vigie-firewall.service does
// at boot, in a fresh namespace: twice in a row, over no table, over a
// stale vigie table, and beside another table, which must stay as it was.
func TestPersistFileLoadsAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigie.nft")
	spec := Spec{Ports: []Port{{"tcp", 22, "sshd"}}, Forward: true}
	if err := os.WriteFile(path, []byte(spec.Text()), 0o644); err != nil {
		t.Fatal(err)
	}
	const keepme = "table ip keepme {\n\tchain c {\n\t\ttype filter hook input priority 10; policy accept;\n\t\ttcp dport 8080 counter accept\n\t}\n}\n"
	const stale = "table inet vigie {\n\tchain stale {\n\t\ttype filter hook output priority 0; policy drop;\n\t}\n}\n"
	tests := []struct {
		name   string
		before []string
	}{
		{"no table yet", nil},
		{"beside another table", []string{keepme}},
		{"over an older vigie table", []string{keepme, stale}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := netnstest.New(t)
			for _, s := range tt.before {
				ns.Load(t, s)
			}
			var first string
			for i := range 2 {
				if out, err := ns.Exec("nft", "-f", path); err != nil {
					t.Fatalf("load %d: %v: %s", i+1, err, out)
				}
				out, err := ns.Exec("nft", "list", "table", "inet", "vigie")
				if err != nil {
					t.Fatalf("list after load %d: %v: %s", i+1, err, out)
				}
				if i == 0 {
					first = string(out)
				} else if string(out) != first {
					t.Errorf("the second load changed the table:\n%s\nthen\n%s", first, out)
				}
			}
			if strings.Contains(first, "stale") || !strings.Contains(first, "hook input priority filter; policy drop;") || !strings.Contains(first, "tcp dport 22 accept") {
				t.Errorf("table inet vigie after the loads:\n%s", first)
			}
			out, err := ns.Exec("nft", "list", "tables")
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"table inet vigie"}
			if len(tt.before) > 0 {
				want = []string{"table ip keepme", "table inet vigie"}
				if got, _ := ns.Exec("nft", "list", "table", "ip", "keepme"); !strings.Contains(string(got), "tcp dport 8080 counter packets 0 bytes 0 accept") {
					t.Errorf("table ip keepme changed:\n%s", got)
				}
			}
			if got := strings.Split(strings.TrimSpace(string(out)), "\n"); !slices.Equal(got, want) {
				t.Errorf("tables %q, want %q", got, want)
			}
		})
	}
}

// TestFixOlderHost: a host an older vigie fixed has the include line in
// nftables.conf. The fix leaves that file alone, and what boot loads (that
// file through nftables.service, then vigie.nft through
// vigie-firewall.service) is still default deny, vigie's table once.
func TestFixOlderHost(t *testing.T) {
	h := newHost(t)
	conf := debianConf + "# Added by vigie fix: vigie's default-deny table.\ninclude \"" + h.opt.PersistFile + "\"\n"
	if err := os.WriteFile(h.conf, []byte(conf), 0o755); err != nil {
		t.Fatal(err)
	}
	p := h.plan(t)
	for _, fc := range p.Files {
		if fc.Path == h.conf {
			t.Fatalf("the plan rewrites nftables.conf")
		}
	}
	if _, err := h.engine().Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(h.conf); string(b) != conf {
		t.Errorf("nftables.conf changed:\n%s", b)
	}
	ns := netnstest.New(t)
	for _, f := range []string{h.conf, h.opt.PersistFile} {
		if out, err := ns.Exec("nft", "-f", f); err != nil {
			t.Fatalf("boot load of %s: %v: %s", f, err, out)
		}
	}
	out, err := ns.Exec("nft", "list", "tables")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(strings.TrimSpace(string(out)), "\n"); !slices.Equal(got, []string{"table inet filter", "table inet vigie"}) {
		t.Errorf("tables after boot: %q", got)
	}
	f := fwcheck.Gather(context.Background(), h.env, fwcheck.Options{NetNS: ns.Path, NftPath: "/usr/sbin/nft"})
	if f.Ruleset == nil || !f.Ruleset.Evaluate("input", "ipv4").Deny() || !f.Ruleset.Evaluate("input", "ipv6").Deny() {
		t.Errorf("after boot not default deny: %v %s", f.Ruleset, f.RulesetErr)
	}
}

// TestUnitText: the boot unit loads the file and nothing else, before the
// network, after what may flush the ruleset.
func TestUnitText(t *testing.T) {
	u := string(unitText("/usr/sbin/nft", "/etc/vigie/vigie.nft"))
	for _, want := range []string{"\nDefaultDependencies=no\n", "\nBefore=network-pre.target shutdown.target\n", "\nWants=network-pre.target\n",
		"\nAfter=local-fs.target nftables.service netfilter-persistent.service\n", "\nConflicts=shutdown.target\n",
		"\nType=oneshot\n", "\nRemainAfterExit=yes\n", "\nExecStart=/usr/sbin/nft -f /etc/vigie/vigie.nft\n", "\nWantedBy=sysinit.target\n"} {
		if !strings.Contains(u, want) {
			t.Errorf("unit lacks %q:\n%s", strings.TrimSpace(want), u)
		}
	}
	if strings.Contains(u, "flush") || strings.Contains(u, "ExecStop") {
		t.Errorf("unit flushes or stops:\n%s", u)
	}
}
