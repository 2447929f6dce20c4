package hostiletest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// vigieBinary is $VIGIE_BINARY, or vigie built now the way `make` builds
// it (static, CGO_ENABLED=0).
func vigieBinary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("VIGIE_BINARY"); b != "" {
		return b
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	bin := filepath.Join(t.TempDir(), "vigie")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-o", bin, "github.com/vigie-agent/vigie/cmd/vigie")
	c.Dir = filepath.Join("..", "..")
	c.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// openPTY returns a pseudo-terminal's master and slave. vigie runs with the
// slave as its controlling terminal, the way root meets it in a shell: a
// key file that is a symlink to /dev/tty then blocks a reader instead of
// failing at once.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// capped keeps the first max bytes written and counts the rest: a vigie
// echoing a million lines must not take the test's memory with it.
type capped struct {
	buf   bytes.Buffer
	max   int
	total int64
}

func (c *capped) Write(p []byte) (int, error) {
	c.total += int64(len(p))
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// result is one vigie run.
type result struct {
	args        []string
	code        int
	stdout      []byte
	stdoutTotal int64
	stderr      []byte
	wall        time.Duration
	maxRSSKB    int64 // vigie's and the commands it waited for (apt, sshd -T), the largest
	timedOut    bool
}

func (r result) String() string {
	s := fmt.Sprintf("vigie %v: exit %d after %s, peak RSS %d KiB", r.args, r.code, r.wall.Round(time.Millisecond), r.maxRSSKB)
	if r.timedOut {
		s += " (killed at the test's deadline)"
	}
	if r.stdoutTotal > int64(len(r.stdout)) {
		s += fmt.Sprintf(", %d bytes on stdout (first %d kept)", r.stdoutTotal, len(r.stdout))
	}
	if len(r.stderr) > 0 {
		// The first lines: a Go crash's cause, not its whole stack.
		lines := strings.SplitN(string(r.stderr), "\n", 7)
		s += "\nstderr: " + CatV([]byte(strings.Join(lines[:min(len(lines), 6)], "\n")))
		if len(lines) > 6 {
			s += "\n(...)"
		}
	}
	return s
}

// runDeadline bounds one vigie run: six times its areas' default deadline
// (10s), so the whole test stays within go test's default timeout however
// vigie fails.
const runDeadline = time.Minute

// asLimitKB caps vigie's address space. The Go runtime reserves about
// 600 MiB of it before doing anything, so this is far above any real use
// and only there to stop a runaway read from taking the machine down.
const asLimitKB = 2 << 20

// vigie runs the binary as root against this machine, in the private
// /etc, with a pty as controlling terminal, stdout piped (no colour), a
// deadline, and a tag in its environment (also a secret of root's that no
// output may hold) by which any process it leaves behind is found.
func (h *host) vigie(bin, journalDir, tag string, args ...string) result {
	h.t.Helper()
	_, slave := openPTY(h.t)
	ctx, cancel := context.WithTimeout(context.Background(), runDeadline)
	defer cancel()
	env := []string{"HOME=/root", "TERM=xterm-256color", "VIGIE_HOSTILE_TAG=" + tag, "VH_AS=" + strconv.Itoa(asLimitKB)}
	if journalDir != "" {
		env = append(env, "VH_JOURNAL="+journalDir)
	}
	c := h.command(ctx, env, append([]string{bin}, args...)...)
	c.SysProcAttr.Setpgid = false
	c.SysProcAttr.Setsid, c.SysProcAttr.Setctty, c.SysProcAttr.Ctty = true, true, 0
	c.Stdin = slave
	stdout, stderr := &capped{max: 64 << 20}, &capped{max: 1 << 20}
	c.Stdout, c.Stderr = stdout, stderr
	r := result{args: args}
	start := time.Now()
	err := c.Run()
	r.wall = time.Since(start)
	r.timedOut = ctx.Err() != nil
	r.stdout, r.stdoutTotal, r.stderr = stdout.buf.Bytes(), stdout.total, stderr.buf.Bytes()
	r.code = -1
	if c.ProcessState != nil {
		r.code = c.ProcessState.ExitCode()
		if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.maxRSSKB = ru.Maxrss
		}
	} else if err != nil {
		h.t.Fatalf("vigie %v: %v", args, err)
	}
	if left := processesWithEnv("VIGIE_HOSTILE_TAG=" + tag); len(left) > 0 {
		h.t.Errorf("vigie %v left processes behind: %v", args, left)
		for _, p := range left {
			var pid int
			if _, err := fmt.Sscan(p, &pid); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	return r
}
