package units

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/vigie-agent/vigie/host"
)

// Live reports whether env is the running system under a systemd vigie can
// ask, not a captured tree or an image: only then may a remediation start,
// stop or enable units.
func Live(env *host.Env) bool {
	if !env.Live() {
		return false
	}
	_, err := os.Stat("/run/systemd/system")
	return err == nil
}

// Systemd asks systemd through its D-Bus API, waiting for each job's end:
// what the disks remediation needs of the service manager.
type Systemd struct{}

// Reload is systemctl daemon-reload.
func (Systemd) Reload(ctx context.Context) error {
	conn, err := Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.ReloadContext(ctx)
}

// Start starts a unit and waits for the job.
func (Systemd) Start(ctx context.Context, unit string) error { return unitJob(ctx, unit, true) }

// Stop stops a unit and waits for the job.
func (Systemd) Stop(ctx context.Context, unit string) error { return unitJob(ctx, unit, false) }

// ErrMasked is a unit masked by the operator: vigie does not unmask it.
var ErrMasked = errors.New("masked")

// Manager is the service manager the remediation engine asks
// (remediations.Units): it enables and disables unit files and starts and
// stops units through systemd's D-Bus API, as systemctl enable --now and
// disable --now do.
type Manager struct{}

// notEnabling are the unit file states where systemctl enable changes
// nothing: the unit starts at boot already, or is started by other means
// (static: no [Install] section; generated; transient).
var notEnabling = map[string]bool{"enabled": true, "enabled-runtime": true, "static": true, "alias": true, "generated": true, "transient": true}

// State implements remediations.Units. The unit file state is read from
// the unit files on disk, so a unit written a moment ago is seen before
// any daemon-reload.
func (Manager) State(ctx context.Context, name string) (enabled, active bool, err error) {
	conn, err := Connect(ctx)
	if err != nil {
		return false, false, err
	}
	defer conn.Close()
	st, err := fileState(ctx, conn, name)
	if err != nil {
		return false, false, err
	}
	if strings.HasPrefix(st, "masked") {
		return false, false, fmt.Errorf("%s is %w: vigie does not unmask what an operator masked (systemctl unmask %s)", name, ErrMasked, name)
	}
	statuses, err := conn.ListUnitsByNamesContext(ctx, []string{name})
	if err != nil {
		return false, false, fmt.Errorf("state of %s: %w", name, err)
	}
	for _, s := range statuses {
		if s.Name == name {
			active = s.ActiveState == "active" || s.ActiveState == "activating" || s.ActiveState == "reloading"
		}
	}
	return notEnabling[st], active, nil
}

// fileState is a unit's UnitFileState, "" when no unit file has its name.
func fileState(ctx context.Context, conn *sddbus.Conn, name string) (string, error) {
	files, err := conn.ListUnitFilesByPatternsContext(ctx, nil, []string{name})
	if err != nil {
		return "", fmt.Errorf("list unit file %s: %w", name, err)
	}
	for _, f := range files {
		if filepath.Base(f.Path) == name {
			return f.Type, nil
		}
	}
	return "", nil
}

// Enable implements remediations.Units: enable at boot, reload so systemd
// sees a unit file just written and schedules a timer, then start when
// asked.
func (Manager) Enable(ctx context.Context, name string, start bool) error {
	conn, err := Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, _, err := conn.EnableUnitFilesContext(ctx, []string{name}, false, true); err != nil {
		return fmt.Errorf("enable %s: %w", name, err)
	}
	if err := conn.ReloadContext(ctx); err != nil {
		return fmt.Errorf("daemon-reload: %w", err)
	}
	if start {
		return startUnit(ctx, conn, name, true)
	}
	return nil
}

// Disable implements remediations.Units: stop when asked, disable at boot
// if the unit file is still there and enabled, and reload. A unit that is
// that does not run needs no stop, and one without a file no disable.
func (Manager) Disable(ctx context.Context, name string, stop bool) error {
	conn, err := Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if stop {
		statuses, err := conn.ListUnitsByNamesContext(ctx, []string{name})
		if err != nil {
			return fmt.Errorf("state of %s: %w", name, err)
		}
		for _, s := range statuses {
			if s.Name == name && s.ActiveState != "inactive" && s.ActiveState != "failed" {
				if err := startUnit(ctx, conn, name, false); err != nil {
					return err
				}
			}
		}
	}
	st, err := fileState(ctx, conn, name)
	if err != nil {
		return err
	}
	if st == "" || st == "disabled" {
		return nil
	}
	if _, err := conn.DisableUnitFilesContext(ctx, []string{name}, false); err != nil {
		return fmt.Errorf("disable %s: %w", name, err)
	}
	if err := conn.ReloadContext(ctx); err != nil {
		return fmt.Errorf("daemon-reload: %w", err)
	}
	return nil
}

func unitJob(ctx context.Context, unit string, start bool) error {
	conn, err := Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return startUnit(ctx, conn, unit, start)
}

func startUnit(ctx context.Context, conn *sddbus.Conn, unit string, start bool) error {
	ch := make(chan string, 1)
	verb := "start"
	var err error
	if start {
		_, err = conn.StartUnitContext(ctx, unit, "replace", ch)
	} else {
		verb = "stop"
		_, err = conn.StopUnitContext(ctx, unit, "replace", ch)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", verb, unit, err)
	}
	select {
	case res := <-ch:
		if res != "done" {
			return fmt.Errorf("%s %s: job %s (journalctl -u %s says why)", verb, unit, res, unit)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s %s: %w", verb, unit, ctx.Err())
	}
}

// ArmTimer starts a transient timer that runs argv once, after d, as a
// service of its own: outside the caller's process, session and cgroup,
// so it fires even when the caller is killed with -9, its terminal hangs
// up or its SSH session ends. unit names both (unit.timer, unit.service).
//
// The service may run for up to limit: what it runs may have to wait.
func ArmTimer(ctx context.Context, unit, description string, d, limit time.Duration, argv []string) error {
	secs := func(d time.Duration) string {
		return strconv.FormatInt(int64(d.Round(time.Second)/time.Second), 10) + "s"
	}
	args := []string{"--unit=" + unit, "--description=" + description, "--on-active=" + secs(d),
		"--timer-property=AccuracySec=1s", "--property=Type=oneshot", "--property=TimeoutStartSec=" + secs(limit),
		"--collect", "--quiet", "--"}
	out, err := exec.CommandContext(ctx, "systemd-run", append(args, argv...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("systemd-run %s: %w: %s", unit, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Disarm stops a timer ArmTimer started, and its service should it have
// fired already and still wait (for a lock its caller holds): what it
// would run is no longer wanted. Either may be gone already: a transient
// unit is unloaded once it has run.
func Disarm(ctx context.Context, unit string) error {
	return stopLoaded(ctx, unit+".timer", unit+".service")
}

// DisarmTimer stops only the timer: for a caller that does not hold the
// lock the service waits for, whose service may be at work already and
// must be left to end.
func DisarmTimer(ctx context.Context, unit string) error {
	return stopLoaded(ctx, unit+".timer")
}

// stopLoaded stops the units that are loaded.
func stopLoaded(ctx context.Context, names ...string) error {
	conn, err := Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var errs []error
	for _, u := range names {
		if err := startUnit(ctx, conn, u, false); err != nil && !notLoaded(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// notLoaded reports whether err is systemd's answer for a unit it does not
// know (a transient unit collected once it ran).
func notLoaded(err error) bool {
	var de dbus.Error
	if errors.As(err, &de) && de.Name == "org.freedesktop.systemd1.NoSuchUnit" {
		return true
	}
	var dp *dbus.Error
	return errors.As(err, &dp) && dp.Name == "org.freedesktop.systemd1.NoSuchUnit"
}

// Running lists the loaded units matching the patterns that are active,
// activating or deactivating: the scopes of commands still at work.
func Running(ctx context.Context, patterns ...string) ([]string, error) {
	conn, err := Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	us, err := conn.ListUnitsByPatternsContext(ctx, []string{"active", "activating", "deactivating"}, patterns)
	if err != nil {
		return nil, fmt.Errorf("list units %s: %w", strings.Join(patterns, " "), err)
	}
	names := make([]string, 0, len(us))
	for _, u := range us {
		names = append(names, u.Name)
	}
	return names, nil
}
