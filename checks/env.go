package checks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Env says where an area reads the system. Tests point it at captured trees
// and replayed command output; production uses "/", "/proc", "/sys" and the
// real commands.
type Env struct {
	Root string // prefix for configuration files, "/" in production
	Proc string // procfs mount
	Sys  string // sysfs mount
	Cmd  Runner
}

// DefaultEnv reads the live system.
func DefaultEnv() *Env {
	return &Env{Root: "/", Proc: "/proc", Sys: "/sys", Cmd: ExecRunner{}}
}

// Live reports whether env is the running system, not a captured tree:
// only then may an area ask systemd, the kernel or the network.
func (e *Env) Live() bool { return e.Root == "" || e.Root == "/" }

// Path maps an absolute path of the inspected system to where it is read.
func (e *Env) Path(p string) string {
	if e.Live() {
		return p
	}
	return filepath.Join(e.Root, p)
}

// Runner runs a command and returns its standard output. Every command an
// area runs goes through it, so tests replay captured output and production
// runs exactly one code path.
type Runner interface {
	Run(ctx context.Context, name string, args ...string) ([]byte, error)
}

// ExecRunner runs real commands with a C locale, so parsers see the
// untranslated output they were written against.
type ExecRunner struct{}

// Run executes name with args (never through a shell).
func (ExecRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &CommandError{Argv: append([]string{name}, args...), Err: err, Stderr: strings.TrimSpace(stderr.String())}
	}
	return stdout.Bytes(), nil
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
