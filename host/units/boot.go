package units

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/vigie-agent/vigie/internal/atomicfile"
)

// SystemDir is where the operator's and the administrator's unit files
// live; a unit enabled there starts at every boot.
const SystemDir = "/etc/systemd/system"

// BootJob is a service that runs argv once at the next boot, after the
// units named in After, and is gone once RemoveBootJob removes it. A
// transient timer lives in /run and dies with a reboot; what must happen
// even when the host restarts first (undo a change nobody confirmed) is
// also left here.
type BootJob struct {
	Name        string // the unit's name, ending in .service
	Description string
	After       []string
	Argv        []string
	// Comment is written at the top of the file, for the administrator
	// who finds it.
	Comment string
}

// ExecQuote quotes argv for an Exec= line: each word in double quotes,
// with the backslash, the quote, "$" and "%" escaped as systemd reads
// them, so a path with spaces or specifiers stays one literal word.
func ExecQuote(argv []string) (string, error) {
	words := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, "\n\r\x00") {
			return "", fmt.Errorf("argument %q cannot be written on an Exec= line", a)
		}
		r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `$$`, `%`, `%%`)
		words[i] = `"` + r.Replace(a) + `"`
	}
	return strings.Join(words, " "), nil
}

// InstallBootJob writes the unit under dir (SystemDir on a host) and
// enables it for multi-user.target with the link systemctl enable would
// make. It is Type=simple: a job that waits does not hold the boot up.
// systemd reads the files at the next boot; nothing is started now.
func InstallBootJob(dir string, j BootJob) error {
	if !strings.HasSuffix(j.Name, ".service") || strings.ContainsAny(j.Name, "/\n") {
		return fmt.Errorf("boot job %q: not a service name", j.Name)
	}
	exec, err := ExecQuote(j.Argv)
	if err != nil {
		return fmt.Errorf("boot job %s: %w", j.Name, err)
	}
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(j.Comment), "\n") {
		if l != "" {
			fmt.Fprintf(&b, "# %s\n", l)
		}
	}
	fmt.Fprintf(&b, "[Unit]\nDescription=%s\n", strings.ReplaceAll(j.Description, "\n", " "))
	if len(j.After) > 0 {
		fmt.Fprintf(&b, "After=%s\n", strings.Join(j.After, " "))
	}
	fmt.Fprintf(&b, "\n[Service]\nType=simple\nExecStart=%s\n\n[Install]\nWantedBy=multi-user.target\n", exec)
	if err := atomicfile.Write(filepath.Join(dir, j.Name), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("boot job %s: %w", j.Name, err)
	}
	wants := filepath.Join(dir, "multi-user.target.wants")
	if err := os.MkdirAll(wants, 0o755); err != nil {
		return fmt.Errorf("boot job %s: %w", j.Name, err)
	}
	link := filepath.Join(wants, j.Name)
	if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("boot job %s: %w", j.Name, err)
	}
	if err := os.Symlink(filepath.Join(dir, j.Name), link); err != nil {
		return fmt.Errorf("boot job %s: %w", j.Name, err)
	}
	return nil
}

// RemoveBootJob removes the link and the unit InstallBootJob wrote; a
// job already gone is no error.
func RemoveBootJob(dir, name string) error {
	var errs []error
	for _, p := range []string{filepath.Join(dir, "multi-user.target.wants", name), filepath.Join(dir, name)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// BootJobs lists the units in dir whose names start with prefix and end
// in .service: what a sweep looks at.
func BootJobs(dir, prefix string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, prefix) && strings.HasSuffix(n, ".service") && e.Type().IsRegular() {
			out = append(out, n)
		}
	}
	return out, nil
}
