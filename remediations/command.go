package remediations

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
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
func Run(ctx context.Context, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(append(os.Environ(), "LC_ALL=C", "LANG=C"), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return out.Bytes(), &CommandError{Argv: append([]string{name}, args...), Err: err, Message: ErrorLines(out.Bytes())}
	}
	return out.Bytes(), nil
}

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
