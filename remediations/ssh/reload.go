package ssh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vigie-agent/vigie/host/hostfs"

	"github.com/vigie-agent/vigie/host/units"
)

// Reloader makes a running sshd read its configuration again: through
// systemd when it runs (ssh.service on Debian and Ubuntu, sshd.service on
// RHEL), else by SIGHUP to the pid in sshd's PidFile. Then it waits until
// the listening addresses answer again, since sshd re-executes itself.
func Reloader(pidFile string, listen []string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		var err error
		if _, statErr := os.Stat("/run/systemd/system"); statErr == nil {
			err = reloadSystemd(ctx)
		} else {
			err = signalPidFile(pidFile)
		}
		if err != nil {
			return err
		}
		return waitListening(ctx, listen, 5*time.Second)
	}
}

func reloadSystemd(ctx context.Context) error {
	conn, err := units.Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, unit := range []string{"ssh.service", "sshd.service"} {
		prop, err := conn.GetUnitPropertyContext(ctx, unit, "ActiveState")
		if err != nil || strings.Trim(prop.Value.String(), `"`) != "active" {
			continue
		}
		done := make(chan string, 1)
		if _, err := conn.ReloadUnitContext(ctx, unit, "replace", done); err != nil {
			return fmt.Errorf("reload %s: %w", unit, err)
		}
		select {
		case r := <-done:
			if r != "done" {
				return fmt.Errorf("reload %s: job %s", unit, r)
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// Socket activation (ssh.socket) starts a fresh sshd per connection:
	// nothing runs to reload.
	return nil
}

func signalPidFile(pidFile string) error {
	if pidFile == "" || pidFile == "none" {
		return errors.New("sshd has no PidFile and systemd is not running: cannot reload it")
	}
	b, err := hostfs.ReadFile(context.Background(), pidFile, hostfs.Small)
	if err != nil {
		return fmt.Errorf("read %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("%s holds no pid (%d bytes)", pidFile, len(b))
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("SIGHUP sshd (pid %d): %w", pid, err)
	}
	return nil
}

// waitListening waits until a TCP connection to every address succeeds.
func waitListening(ctx context.Context, addrs []string, within time.Duration) error {
	deadline := time.Now().Add(within)
	time.Sleep(100 * time.Millisecond) // let sshd close the old listener first
	for _, a := range addrs {
		for {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", a)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("sshd does not listen on %s again after the reload: %w", a, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}
