package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Runner runs a command and returns its standard output. Every command an
// area runs goes through it, so tests replay captured output and production
// runs exactly one code path.
type Runner interface {
	Run(ctx context.Context, name string, args ...string) ([]byte, error)
}

// ExecRunner runs real commands with a C locale, so parsers see the
// untranslated output they were written against.
type ExecRunner struct{}

// Bounds on what a command may print: more stdout than any query vigie
// runs prints on a large host is an error, not an allocation.
const (
	maxStdout = 64 << 20
	maxStderr = 64 << 10
	// waitDelay is how long, once the command is killed, vigie waits for
	// its output pipes to close before giving up on them.
	waitDelay = time.Second
)

// Run executes name with args (never through a shell). The command runs in
// a process group of its own: when ctx ends, the whole group is killed, so
// an area past its deadline leaves nothing running behind it (apt-get's
// methods, a child of sshd -T).
func (ExecRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The negative pid is the group: the command and everything it
		// started.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = waitDelay
	stdout := &boundedBuffer{max: maxStdout}
	stderr := &boundedBuffer{max: maxStderr, truncate: true}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	if err == nil && stdout.over {
		err = fmt.Errorf("printed more than %d MiB", maxStdout>>20)
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (stopped: %w)", err, ctx.Err())
		}
		return stdout.Bytes(), &CommandError{Argv: append([]string{name}, args...), Err: err, Stderr: strings.TrimSpace(stderr.String())}
	}
	return stdout.Bytes(), nil
}

// boundedBuffer keeps at most max bytes. Past it, it either drops the rest
// (truncate, for stderr: the first lines say what went wrong) or fails the
// write, which makes the command's next write fail and the command end.
type boundedBuffer struct {
	bytes.Buffer
	max      int
	truncate bool
	over     bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	room := b.max - b.Len()
	if len(p) <= room {
		return b.Buffer.Write(p)
	}
	b.over = true
	if room > 0 {
		b.Buffer.Write(p[:room])
	}
	if b.truncate {
		return len(p), nil
	}
	return 0, errors.New("output too large")
}

// CommandError keeps what a failing command said, since "exit status 255"
// alone tells an operator nothing.
type CommandError struct {
	Argv   []string
	Err    error
	Stderr string
}

func (e *CommandError) Error() string {
	msg := fmt.Sprintf("%s: %v", strings.Join(e.Argv, " "), e.Err)
	if e.Stderr != "" {
		msg += ": " + firstLines(e.Stderr, 3)
	}
	return msg
}

func (e *CommandError) Unwrap() error { return e.Err }

// NotFound reports whether the command itself is missing, as opposed to
// failing.
func NotFound(err error) bool {
	return errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist)
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, " / ")
}

// Replay answers commands from captured output, keyed by the full argv
// joined with spaces. An unknown command is an error, so a test notices a
// command it did not expect.
type Replay map[string]ReplayOutput

// ReplayOutput is one captured answer: what the command printed and, when
// it did not exit 0, its exit status (or another error).
type ReplayOutput struct {
	Stdout []byte
	Code   int
	Err    error
}

// ExitStatus is a command's non-zero exit status, for commands whose status
// means something (dnf check-update exits 100 when updates are pending).
type ExitStatus int

func (e ExitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// ExitCode returns the status, as *exec.ExitError does.
func (e ExitStatus) ExitCode() int { return int(e) }

// ExitCode returns the exit status a command error carries, or -1.
func ExitCode(err error) int {
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return -1
}

// Run returns the captured answer for the command line.
func (r Replay) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	key := strings.Join(append([]string{name}, args...), " ")
	out, ok := r[key]
	if !ok {
		return nil, &CommandError{Argv: append([]string{name}, args...), Err: exec.ErrNotFound}
	}
	switch {
	case out.Err != nil:
		return out.Stdout, &CommandError{Argv: append([]string{name}, args...), Err: out.Err}
	case out.Code != 0:
		return out.Stdout, &CommandError{Argv: append([]string{name}, args...), Err: ExitStatus(out.Code)}
	}
	return out.Stdout, nil
}
