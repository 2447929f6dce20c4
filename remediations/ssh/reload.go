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
	return reload{pidFile: pidFile, listen: listen}.run
}

// reload is what reloading one sshd needs to know of it.
type reload struct {
	pidFile string
	listen  []string // the addresses that must answer afterwards
	// socket is the socket unit holding sshd's addresses, when sshd is
	// socket-activated.
	socket *units.Socket
}

func (r reload) run(ctx context.Context) error {
	var err error
	if _, statErr := os.Stat("/run/systemd/system"); statErr == nil {
		err = reloadSystemd(ctx, r.socket)
	} else {
		err = signalPidFile(r.pidFile)
	}
	if err != nil {
		return err
	}
	err = waitListening(ctx, r.listen, 5*time.Second)
	if err != nil && r.socket != nil {
		return fmt.Errorf("%w (the addresses of %s)", err, r.socket.Unit)
	}
	return err
}

// reloadSystemd reloads the sshd service that runs. Under socket activation
// there may be none: with Accept=yes each connection starts its own sshd
// (sshd@.service), and with Accept=no ssh.service starts at the first
// connection; either way every new sshd reads the configuration as the
// files now say, and the socket itself, held by systemd, never stops
// listening. Where Ubuntu's generator derives ssh.socket's addresses from
// sshd_config, a daemon-reload keeps them in step with the files; vigie
// changes no port, so ssh.socket is not restarted.
func reloadSystemd(ctx context.Context, socket *units.Socket) error {
	conn, err := units.Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if socket != nil && units.SSHSocketGenerated() {
		if err := conn.ReloadContext(ctx); err != nil {
			return fmt.Errorf("daemon-reload for the addresses of %s: %w", socket.Unit, err)
		}
	}
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
