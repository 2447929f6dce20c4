// Package netnstest makes network namespaces for tests: each test gets its
// own, so nftables rulesets, sockets and veth links never touch the host's.
package netnstest

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigie-agent/vigie/internal/testenv"
)

// NS is a named network namespace (ip netns add), removed when the test
// ends.
type NS struct {
	Name string
	Path string // /run/netns/NAME
	FD   int
}

// Require skips unless the test can create namespaces: root, ip and nft.
func Require(t testing.TB) {
	t.Helper()
	testenv.Integration(t)
	testenv.Root(t, "to create a network namespace")
	testenv.Commands(t, "apt-get install iproute2 nftables", "ip", "nft")
}

// New creates a namespace with its loopback up.
func New(t testing.TB) *NS {
	t.Helper()
	Require(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	n := &NS{Name: "vigie-test-" + hex.EncodeToString(b[:])}
	n.Path = "/run/netns/" + n.Name
	if out, err := exec.Command("ip", "netns", "add", n.Name).CombinedOutput(); err != nil {
		testenv.Missing(t, "cannot create a network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", n.Name).Run() })
	fd, err := unix.Open(n.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	n.FD = fd
	if out, err := n.Exec("ip", "link", "set", "lo", "up"); err != nil {
		t.Fatalf("lo up: %v: %s", err, out)
	}
	return n
}

// Exec runs a command inside the namespace.
func (n *NS) Exec(argv ...string) ([]byte, error) {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name}, argv...)...).CombinedOutput()
}

// Prefix is the argv prefix that runs a command inside the namespace.
func (n *NS) Prefix() []string { return []string{"ip", "netns", "exec", n.Name} }

// Load applies an nft script in the namespace, as nftables.service would.
func (n *NS) Load(t testing.TB, script string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ruleset.nft")
	if err := os.WriteFile(p, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := n.Exec("nft", "-f", p); err != nil {
		t.Fatalf("nft -f: %v: %s\n%s", err, out, script)
	}
}

// Listen opens a TCP listener inside the namespace (a socket belongs to
// the namespace of the thread that creates it) and accepts in the
// background until the test ends.
func (n *NS) Listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	if err := n.inside(func() (err error) { l, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l
}

// Member starts a process in the namespace and returns its pid, so that
// /proc/PID/net shows the namespace's sockets and tables.
func (n *NS) Member(t testing.TB) int {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", n.Name, "sleep", "120")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var want unix.Stat_t
	if err := unix.Fstat(n.FD, &want); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		var st unix.Stat_t
		if err := unix.Stat("/proc/"+strconv.Itoa(cmd.Process.Pid)+"/ns/net", &st); err == nil && st.Ino == want.Ino && st.Dev == want.Dev {
			return cmd.Process.Pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("member process never entered the namespace")
	return 0
}

// Link joins two namespaces with a veth pair and gives each end an address
// (CIDR notation).
func Link(t testing.TB, a *NS, aAddr string, b *NS, bAddr string) {
	t.Helper()
	va, vb := "va"+a.Name[len(a.Name)-6:], "vb"+b.Name[len(b.Name)-6:]
	steps := [][]string{
		{"ip", "link", "add", va, "netns", a.Name, "type", "veth", "peer", "name", vb, "netns", b.Name},
		{"ip", "-n", a.Name, "addr", "add", aAddr, "dev", va},
		{"ip", "-n", b.Name, "addr", "add", bAddr, "dev", vb},
		{"ip", "-n", a.Name, "link", "set", va, "up"},
		{"ip", "-n", b.Name, "link", "set", vb, "up"},
	}
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", s, err, out)
		}
	}
}

// Dial connects from inside the namespace, with a deadline: a dropped
// packet shows as a timeout.
func (n *NS) Dial(addr string, timeout time.Duration) error {
	return n.inside(func() error {
		c, err := net.DialTimeout("tcp", addr, timeout)
		if err == nil {
			c.Close()
		}
		return err
	})
}

// inside runs fn on a thread switched into the namespace, then switches
// the thread back.
func (n *NS) inside(fn func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- err
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(n.FD, unix.CLONE_NEWNET); err != nil {
			ch <- err
			return
		}
		err = fn()
		if serr := unix.Setns(orig, unix.CLONE_NEWNET); serr != nil {
			panic(serr) // the thread is still locked: it dies with the goroutine
		}
		runtime.UnlockOSThread()
		ch <- err
	}()
	return <-ch
}
