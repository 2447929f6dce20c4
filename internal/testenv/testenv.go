// Package testenv decides what an integration test does when a real
// component it needs is missing. As an unprivileged developer, or on a
// machine without sshd or nftables, the test skips and says what it needs.
// In CI, where .ci/run installs every component and runs as root, it sets
// VIGIE_REQUIRE_REAL=1, and the same test fails, naming what is missing: a
// broken runner must show red, not a green run that tested nothing.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// RequireVar is the variable .ci/run sets.
const RequireVar = "VIGIE_REQUIRE_REAL"

// Required reports whether every real component must be present.
func Required() bool { return os.Getenv(RequireVar) == "1" }

// Missing skips the test for want of a component, or fails it where every
// component is required.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s (%s=1: this run must have every real component)", msg, RequireVar)
	}
	t.Skip(msg)
}

// Root needs the test to run as root, for what it says.
func Root(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "needs root: %s (run make test as root)", why)
	}
}

// Commands needs each program on PATH (or at its absolute path); hint says
// which packages bring them.
func Commands(t testing.TB, hint string, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			Missing(t, "needs %s (%s)", n, hint)
		}
	}
}

// Integration skips under -short, which asks for unit tests only; an
// explicit choice, never a missing component.
func Integration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
}

// Sshd needs what running a real sshd on a loopback port takes: root,
// OpenSSH's server and ssh-keygen, and sshd's privilege separation
// directory.
func Sshd(t testing.TB) {
	t.Helper()
	Integration(t)
	Root(t, "to run sshd")
	Commands(t, "apt-get install openssh-server", "/usr/sbin/sshd", "ssh-keygen")
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		Missing(t, "cannot create sshd's privilege separation directory: %v", err)
	}
}

// FreePort returns a loopback TCP port that was free a moment ago, for a
// real server a test starts.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Account is a real local account a test made with User.
type Account struct {
	Name string
	UID  int
	Home string
}

// User creates a real local account for the test with useradd: a login
// shell, home directory home (not created), the supplementary groups
// given, and password as its password ("" leaves it locked). sshd and
// sshd -T -C resolve it through NSS like any account, which a fixture
// passwd file cannot give them. It is deleted when the test ends.
func User(t testing.TB, home, password string, groups ...string) Account {
	t.Helper()
	Root(t, "to create accounts")
	Commands(t, "apt-get install passwd", "useradd", "userdel", "chpasswd")
	var b [3]byte
	_, _ = rand.Read(b[:])
	name := "vt" + hex.EncodeToString(b[:])
	args := []string{"-M", "-d", home, "-s", "/bin/bash"}
	if len(groups) > 0 {
		args = append(args, "-G", strings.Join(groups, ","))
	}
	if out, err := exec.Command("useradd", append(args, name)...).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v %s", name, err, out)
		}
	})
	if password != "" {
		cmd := exec.Command("chpasswd")
		cmd.Stdin = strings.NewReader(name + ":" + password + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("chpasswd %s: %v %s", name, err, out)
		}
	}
	out, err := exec.Command("id", "-u", name).Output()
	if err != nil {
		t.Fatalf("id -u %s: %v", name, err)
	}
	uid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("id -u %s: %q", name, out)
	}
	return Account{Name: name, UID: uid, Home: home}
}
