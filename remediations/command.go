package remediations

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
)

// CommandError is a failed command with what it said: an operator needs
// apt's "E: Could not get lock ..." or dnf's "Error: ...", not
// "exit status 100".
type CommandError struct {
	Argv    []string
	Err     error
	Message string // the tool's own error lines, or the tail of its output
}

func (e *CommandError) Error() string {
	msg := fmt.Sprintf("%s: %v", strings.Join(e.Argv, " "), e.Err)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

func (e *CommandError) Unwrap() error { return e.Err }

// Run executes a command (never through a shell) with a C locale and the
// extra environment, and returns its combined output. Its standard input
// is empty, so nothing can wait on a prompt.
//
// A package manager killed mid-transaction leaves dpkg's or rpm's
// database half written ("dpkg was interrupted"), so a cancelled context
// does not kill the command: Run waits for it to finish, and its error
// says the context ended. Where systemd runs, the command runs in a scope
// of its own, out of vigie.service's control group, so that stopping the
// service (or the package's own restart of it during an upgrade) does not
// kill it either.
func Run(ctx context.Context, env []string, name string, args ...string) ([]byte, error) {
	argv := append([]string{name}, args...)
	if scoped, ok := inScope(argv); ok {
		argv = scoped
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), "LC_ALL=C", "LANG=C"), env...)
	// The output goes to a file, not a pipe: should vigie die mid-command
	// (systemd's stop timeout ends in SIGKILL), a pipe with no reader
	// would kill the package manager with SIGPIPE at its next line.
	out, err := outputFile()
	if err != nil {
		return nil, &CommandError{Argv: append([]string{name}, args...), Err: err}
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, &CommandError{Argv: append([]string{name}, args...), Err: err}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		err = <-done // never killed half way: wait for the transaction's end
		err = errors.Join(fmt.Errorf("%w (%s was left to finish its transaction, not killed)", ctx.Err(), name), err)
	}
	said, rerr := readOutput(out)
	if err == nil && rerr != nil {
		err = fmt.Errorf("read its output: %w", rerr)
	}
	if err != nil {
		return said, &CommandError{Argv: append([]string{name}, args...), Err: err, Message: ErrorLines(said)}
	}
	return said, nil
}

// maxOutput bounds what Run keeps of a command's output: its end, where a
// package manager says how it ended. A large upgrade prints a few MB.
const maxOutput = 16 << 20

// outputFile is an anonymous file for a command's output: created in the
// temporary directory (the service's private one), unlinked at once, so
// nothing but the command and vigie hold it and nothing is left behind.
// It is opened to append: the command's stdout and stderr never write
// over each other, and should a script reopen /dev/stderr (which
// truncates the file), what follows still lands at its end (readOutput
// drops the NULs of the hole).
func outputFile() (*os.File, error) {
	for range 10 {
		name := filepath.Join(os.TempDir(), "vigie-command-"+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("a file for the command's output: %w", err)
		}
		if err := os.Remove(name); err != nil {
			f.Close()
			return nil, fmt.Errorf("a file for the command's output: %w", err)
		}
		return f, nil
	}
	return nil, errors.New("a file for the command's output: no free name in " + os.TempDir())
}

// readOutput reads back what the command wrote, its last maxOutput bytes
// when it wrote more.
func readOutput(f *os.File) ([]byte, error) {
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	start := max(end-maxOutput, 0)
	b := make([]byte, end-start)
	n, err := f.ReadAt(b, start)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return bytes.ReplaceAll(b[:n], []byte{0}, nil), nil
}

// inScope wraps argv in systemd-run --scope where systemd runs.
func inScope(argv []string) ([]string, bool) {
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		return nil, false
	}
	run, err := exec.LookPath("systemd-run")
	if err != nil {
		return nil, false
	}
	unit := fmt.Sprintf("%s%d-%d-%08x", CommandScopePrefix, os.Getpid(), scopes.Add(1), rand.Uint32())
	return append([]string{run, "--scope", "--quiet", "--collect", "--unit=" + unit, "--description=vigie: " + argv[0], "--"}, argv...), true
}

// CommandScopePrefix names the scopes of the commands Run starts: a
// command outlives a vigie killed while it ran, and the revert of that
// vigie's run must wait for it to end (an umount flushing, a swapoff)
// before it looks at what the command left.
const CommandScopePrefix = "vigie-command-"

var scopes atomic.Int64

// ErrorLines picks what a package manager says went wrong: its error
// lines (apt's "E: ", dnf's "Error: ", zypper's "Problem: "), or else the
// last lines of its output.
func ErrorLines(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var errs []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		for _, p := range []string{"E: ", "Error: ", "Error:", "error: ", "Problem: ", "dpkg: error"} {
			if strings.HasPrefix(l, p) {
				errs = append(errs, l)
				break
			}
		}
	}
	if len(errs) == 0 {
		if len(lines) > 5 {
			lines = lines[len(lines)-5:]
		}
		errs = lines
	}
	if len(errs) > 8 {
		errs = append(errs[:8], "...")
	}
	return strings.Join(errs, " / ")
}
