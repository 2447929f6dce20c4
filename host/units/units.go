// Package units tells whether systemd units are enabled and where socket
// units listen, asking systemd over D-Bus on a running system and reading
// unit files and symlinks otherwise (an image, a container, a host where
// systemd does not run).
package units

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/vigie-agent/vigie/host"
)

// Sources of unit states, for evidence.
const (
	ViaDBus  = "systemd D-Bus"
	ViaFiles = "unit symlinks"
)

// States returns the UnitFileState of each unit ("enabled", "disabled",
// "masked", "static"...; "" when the unit is not installed) and how it was
// learnt.
func States(ctx context.Context, env *host.Env, names []string) (map[string]string, string) {
	out := map[string]string{}
	if env.Live() {
		if err := statesDBus(ctx, names, out); err == nil {
			return out, ViaDBus
		}
	}
	statesFiles(env, names, out)
	return out, ViaFiles
}

func statesDBus(ctx context.Context, names []string, out map[string]string) error {
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		return errors.New("systemd is not running")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	files, err := conn.ListUnitFilesByPatternsContext(ctx, nil, names)
	if err != nil {
		return fmt.Errorf("list unit files: %w", err)
	}
	for _, f := range files {
		out[filepath.Base(f.Path)] = f.Type
	}
	return nil
}

// statesFiles finds enabled units by their symlinks under
// /etc/systemd/system/*.wants, masked ones by a link to /dev/null, and
// installed ones by their unit file, the way systemctl is-enabled does for
// a root that is not running.
func statesFiles(env *host.Env, names []string, out map[string]string) {
	wants, _ := filepath.Glob(env.Path("/etc/systemd/system/*.wants"))
	for _, u := range names {
		if target, err := os.Readlink(env.Path("/etc/systemd/system/" + u)); err == nil && target == "/dev/null" {
			out[u] = "masked"
			continue
		}
		for _, w := range wants {
			if _, err := os.Lstat(filepath.Join(w, u)); err == nil {
				out[u] = "enabled"
				break
			}
		}
		if out[u] != "" {
			continue
		}
		for _, dir := range []string{"/lib/systemd/system/", "/usr/lib/systemd/system/", "/etc/systemd/system/"} {
			if _, err := os.Stat(env.Path(dir + u)); err == nil {
				out[u] = "disabled"
				break
			}
		}
	}
}

// Connect reaches systemd's manager API: through the system D-Bus when a
// bus daemon runs, else through systemd's own private socket
// (/run/systemd/private, root only), which minimal images without dbus
// still have.
func Connect(ctx context.Context) (*sddbus.Conn, error) {
	conn, err := sddbus.NewSystemConnectionContext(ctx)
	if err == nil {
		return conn, nil
	}
	conn, perr := sddbus.NewSystemdConnectionContext(ctx)
	if perr != nil {
		return nil, fmt.Errorf("connect to systemd: %w; private socket: %v", err, perr)
	}
	return conn, nil
}
