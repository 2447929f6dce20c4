package firewall

import (
	"testing"

	"github.com/google/nftables"

	"github.com/vigie-agent/vigie/internal/netnstest"
)

// testNetns is a network namespace made for one test, read back through
// the same netlink code the area uses.
type testNetns struct{ *netnstest.NS }

func requireRoot(t *testing.T) { netnstest.Require(t) }

func newNetns(t *testing.T) *testNetns { return &testNetns{netnstest.New(t)} }

func (n *testNetns) load(t *testing.T, script string) { n.Load(t, script) }

func (n *testNetns) exec(argv ...string) ([]byte, error) { return n.Exec(argv...) }

func (n *testNetns) ruleset(t *testing.T) *Ruleset {
	t.Helper()
	conn, err := nftables.New(nftables.WithNetNSFd(n.FD))
	if err != nil {
		t.Fatal(err)
	}
	names, err := DumpExprNames(n.FD)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ReadRuleset(conn, names)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}
