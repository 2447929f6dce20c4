package firewall

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// testNetns is a network namespace made for one test with `ip netns add`,
// so nftables and sockets there never touch the host's.
type testNetns struct {
	name string
	fd   int
}

func requireRoot(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("integration test needs root to create a network namespace (run make test as root)")
	}
	for _, bin := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("integration test needs %s (apt-get install iproute2 nftables)", bin)
		}
	}
}

func newNetns(t *testing.T) *testNetns {
	t.Helper()
	requireRoot(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	n := &testNetns{name: "vigie-test-" + hex.EncodeToString(b[:])}
	if out, err := exec.Command("ip", "netns", "add", n.name).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", n.name).Run() })
	fd, err := unix.Open("/run/netns/"+n.name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	n.fd = fd
	if out, err := n.exec("ip", "link", "set", "lo", "up"); err != nil {
		t.Fatalf("lo up: %v: %s", err, out)
	}
	return n
}

func (n *testNetns) exec(argv ...string) ([]byte, error) {
	return exec.Command("ip", append([]string{"netns", "exec", n.name}, argv...)...).CombinedOutput()
}

// load applies an nft script in the namespace, as nftables.service would.
func (n *testNetns) load(t *testing.T, script string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ruleset.nft")
	if err := os.WriteFile(p, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := n.exec("nft", "-f", p); err != nil {
		t.Fatalf("nft -f: %v: %s\n%s", err, out, script)
	}
}

func (n *testNetns) ruleset(t *testing.T) *Ruleset {
	t.Helper()
	conn, err := nftables.New(nftables.WithNetNSFd(n.fd))
	if err != nil {
		t.Fatal(err)
	}
	names, err := DumpExprNames(n.fd)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ReadRuleset(conn, names)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}
