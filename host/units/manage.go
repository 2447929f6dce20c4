package units

import (
	"context"
	"fmt"
	"os"
	"strings"

	sddbus "github.com/coreos/go-systemd/v22/dbus"

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

// Enable enables (or disables) units at boot, as systemctl enable does,
// reloads so timers are scheduled, and starts (or stops) them.
func Enable(ctx context.Context, names []string, enable bool) error {
	conn, err := Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if enable {
		if _, _, err := conn.EnableUnitFilesContext(ctx, names, false, true); err != nil {
			return fmt.Errorf("enable %s: %w", strings.Join(names, ", "), err)
		}
	} else if _, err := conn.DisableUnitFilesContext(ctx, names, false); err != nil {
		return fmt.Errorf("disable %s: %w", strings.Join(names, ", "), err)
	}
	if err := conn.ReloadContext(ctx); err != nil {
		return err
	}
	for _, n := range names {
		if err := startUnit(ctx, conn, n, enable); err != nil {
			return err
		}
	}
	return nil
}

// EnableAtBoot enables units for the next boot without starting them now.
func EnableAtBoot(ctx context.Context, names ...string) error {
	conn, err := Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, _, err := conn.EnableUnitFilesContext(ctx, names, false, true); err != nil {
		return fmt.Errorf("enable %s: %w", strings.Join(names, ", "), err)
	}
	return conn.ReloadContext(ctx)
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
