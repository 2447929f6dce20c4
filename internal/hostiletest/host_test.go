package hostiletest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nsWrapper runs a command in its own mount namespace (the test starts it
// with CLONE_NEWNS, which Go makes private) where /etc is the test's copy:
// the accounts the test creates exist there only, so nothing else on this
// machine (another test, another vigie) ever sees them, and a killed test
// leaves the real /etc untouched. With VH_JOURNAL set, journald's socket
// directory is that directory too (on a tmpfs over /run/systemd when the
// host has no journald). VH_AS caps the address space, in KiB: a guard for
// the machine, since a vigie reading /dev/zero grows until it dies.
const nsWrapper = `set -eu
mount -n --bind "$VH_ETC" /etc
if [ -n "${VH_JOURNAL:-}" ]; then
  if [ ! -d /run/systemd/journal ]; then
    if [ -d /run/systemd ]; then mount -n -t tmpfs -o mode=0755 vigie-hostile /run/systemd
    else mount -n -t tmpfs -o mode=0755 vigie-hostile /run; fi
    mkdir -p /run/systemd/journal
  fi
  mount -n --bind "$VH_JOURNAL" /run/systemd/journal
fi
if [ -n "${VH_AS:-}" ]; then ulimit -v "$VH_AS"; fi
unset VH_ETC VH_JOURNAL VH_AS
exec "$@"
`

// hostTools are what the test runs besides vigie; vmtest/ci-deps.sh and
// scripts/setup-debian.sh install them.
var hostTools = []string{"sh", "bash", "mount", "cp", "useradd", "setpriv", "python3", "truncate", "mkfifo", "awk", "head", "tr"}

// account is one of the test's accounts.
type account struct {
	Name     string
	UID, GID int
	Home     string
}

// host is this machine, with the test's accounts in a private /etc.
type host struct {
	t        *testing.T
	etc      string // the copy of /etc every command sees as /etc
	base     string // homes, the root-only secret, the script (mode 0755)
	script   string
	secret   string // root-only file: "api_key: sk-live-..."
	rootDir  string // root-only directory holding it and an authorized_keys
	marker   string // the random part of the secret
	uids     map[int]bool
	accounts map[string]account // by trick
}

func newHost(t *testing.T) *host {
	t.Helper()
	h := &host{t: t, etc: filepath.Join(t.TempDir(), "etc"), uids: map[int]bool{}, accounts: map[string]account{}}
	run(t, 30*time.Second, "cp", "-a", "/etc", h.etc)
	base, err := os.MkdirTemp("", "vigie-hostile-")
	if err != nil {
		t.Fatal(err)
	}
	h.base = base
	t.Cleanup(func() {
		h.killAccountProcesses()
		if err := os.RemoveAll(base); err != nil {
			t.Errorf("remove %s: %v", base, err)
		}
	})
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join("..", "..", "scripts", "hostile-home.sh"))
	if err != nil {
		t.Fatal(err)
	}
	h.script = filepath.Join(base, "hostile-home.sh")
	if err := os.WriteFile(h.script, src, 0o755); err != nil {
		t.Fatal(err)
	}
	h.marker = NewMarker("sk-live-")
	h.rootDir = filepath.Join(base, "root-only")
	h.secret = filepath.Join(h.rootDir, "secret.yaml")
	if err := os.Mkdir(h.rootDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{h.secret, filepath.Join(h.rootDir, "authorized_keys")} {
		if err := os.WriteFile(f, []byte("api_key: "+h.marker+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// command runs argv as root in a private mount namespace (nsWrapper).
func (h *host) command(ctx context.Context, env []string, argv ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", nsWrapper, "vigie-hostile"}, argv...)...)
	c.Env = append([]string{"VH_ETC=" + h.etc, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}, env...)
	c.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 5 * time.Second
	return c
}

// asUser runs the script as an account, with the environment a login
// gives it.
func (h *host) asUser(ctx context.Context, a account, args ...string) *exec.Cmd {
	argv := append([]string{"setpriv", "--reuid=" + strconv.Itoa(a.UID), "--regid=" + strconv.Itoa(a.GID), "--init-groups",
		"--no-new-privs", "--reset-env", "/bin/bash", h.script}, args...)
	return h.command(ctx, nil, argv...)
}

// freeUIDs picks n consecutive uids far above any real account's, that no
// process and no entry of /etc/passwd uses: the cleanup kills every
// process of these uids, and must never reach anyone else's.
func freeUIDs(t *testing.T, n int) int {
	t.Helper()
	used := processUIDs()
	passwd, _ := os.ReadFile("/etc/passwd")
	for range 20 {
		var b [4]byte
		_, _ = rand.Read(b[:])
		first := 3_000_000 + int(binary.LittleEndian.Uint32(b[:])%1_000_000)*16
		ok := true
		for u := first; u < first+n && ok; u++ {
			ok = !used[u] && !bytes.Contains(passwd, []byte(":"+strconv.Itoa(u)+":"))
		}
		if ok {
			return first
		}
	}
	t.Fatal("no free range of uids")
	return 0
}

// addAccount creates an account for a trick with useradd, in the private
// /etc, with its home under base and a login shell.
func (h *host) addAccount(trick, name string, uid int, extra ...string) (account, error) {
	home := filepath.Join(h.base, name)
	args := append([]string{"useradd", "-m", "-l", "-d", home, "-s", "/bin/bash", "-u", strconv.Itoa(uid), "-U"}, extra...)
	args = append(args, name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := h.command(ctx, nil, args...).CombinedOutput(); err != nil {
		return account{}, fmt.Errorf("useradd %s: %v: %s", CatV([]byte(name)), err, CatV(bytes.TrimSpace(out)))
	}
	a, err := h.lookup(name)
	if err != nil {
		return a, err
	}
	h.uids[a.UID] = true
	h.accounts[trick] = a
	return a, nil
}

// lookup reads an account back from the private /etc/passwd.
func (h *host) lookup(name string) (account, error) {
	f, err := os.Open(filepath.Join(h.etc, "passwd"))
	if err != nil {
		return account{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) == 7 && fields[0] == name {
			uid, _ := strconv.Atoi(fields[2])
			gid, _ := strconv.Atoi(fields[3])
			return account{Name: name, UID: uid, GID: gid, Home: fields[5]}, nil
		}
	}
	return account{}, fmt.Errorf("account %s is not in %s/passwd", CatV([]byte(name)), h.etc)
}

// plant runs the script as the trick's account.
func (h *host) plant(trick string, arg ...string) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a := h.accounts[trick]
	out, err := h.asUser(ctx, a, append([]string{trick}, arg...)...).CombinedOutput()
	if err != nil {
		h.t.Fatalf("hostile-home.sh %s as %s: %v\n%s", trick, CatV([]byte(a.Name)), err, CatV(out))
	}
}

// listen starts the script's listener as an account and returns its port.
func (h *host) listen(a account) int {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := h.asUser(ctx, a, "listen", "600")
	stdout, err := c.StdoutPipe()
	if err != nil {
		h.t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		cancel()
		_ = c.Wait()
	})
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- l
	}()
	select {
	case l := <-line:
		port, err := strconv.Atoi(strings.TrimSpace(l))
		if err != nil {
			h.t.Fatalf("listener printed %q, not a port", CatV([]byte(l)))
		}
		return port
	case <-time.After(30 * time.Second):
		h.t.Fatal("the listener printed no port within 30s")
	}
	return 0
}

// killAccountProcesses kills whatever still runs under the test's uids.
func (h *host) killAccountProcesses() {
	for pid, uid := range processUIDsByPID() {
		if h.uids[uid] {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func processUIDs() map[int]bool {
	out := map[int]bool{}
	for _, uid := range processUIDsByPID() {
		out[uid] = true
	}
	return out
}

// processUIDsByPID maps every process to its real uid.
func processUIDsByPID() map[int]int {
	out := map[int]int{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "status"))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "Uid:" {
				uid, _ := strconv.Atoi(f[1])
				out[pid] = uid
			}
		}
	}
	return out
}

// processesWithEnv lists the processes whose environment holds s.
func processesWithEnv(s string) []string {
	var out []string
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", d.Name(), "environ"))
		if err != nil || !bytes.Contains(env, []byte(s)) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		out = append(out, d.Name()+" "+CatV(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
	}
	return out
}

// run runs a command as root outside the namespace, failing the test if
// it fails.
func run(t *testing.T, timeout time.Duration, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, CatV(out))
	}
	return out
}
