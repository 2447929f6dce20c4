package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	sshcheck "github.com/vigie-agent/vigie/checks/ssh"
	"github.com/vigie-agent/vigie/host"
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

// reloadSystemd makes the sshd service that runs read its files again.
// Under socket activation there may be none: with Accept=yes each
// connection starts its own sshd (sshd@.service), and with Accept=no
// ssh.service starts at the first connection; either way every new sshd
// reads the configuration as the files now say, and the socket itself,
// held by systemd, never stops listening. A running ssh.service that took
// its socket from systemd is restarted, not reloaded: on SIGHUP sshd
// re-executes itself and binds the ports of its configuration instead of
// the socket it was given (seen with Debian 12's OpenSSH 9.2), which
// leaves the socket's port held by systemd with nobody accepting on it.
// A restart hands the socket to the new sshd, and the unit's
// KillMode=process keeps the sessions open. Where Ubuntu's generator
// derives ssh.socket's addresses from sshd_config, a daemon-reload keeps
// them in step with the files; vigie changes no port, so ssh.socket is
// not restarted.
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
		if err != nil {
			continue
		}
		state := strings.Trim(prop.Value.String(), `"`)
		if state != "active" && state != "failed" {
			continue
		}
		// A failed sshd died, perhaps on a configuration that passed
		// sshd -t but not its start (a revert lands here): start it
		// again on the files as they now are, rather than leave the host
		// without a way in.
		done := make(chan string, 1)
		verb := "reload"
		if state == "failed" {
			_ = conn.ResetFailedUnitContext(ctx, unit)
		}
		if socket != nil || state == "failed" {
			verb = "restart"
			_, err = conn.RestartUnitContext(ctx, unit, "replace", done)
		} else {
			_, err = conn.ReloadUnitContext(ctx, unit, "replace", done)
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", verb, unit, err)
		}
		select {
		case r := <-done:
			if r != "done" {
				return fmt.Errorf("%s %s: job %s", verb, unit, r)
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

// waitListening waits until every address answers with an SSH banner: a
// TCP connection alone proves nothing where systemd holds the socket, as
// the kernel completes the handshake whether or not an sshd accepts.
func waitListening(ctx context.Context, addrs []string, within time.Duration) error {
	deadline := time.Now().Add(within)
	time.Sleep(100 * time.Millisecond) // let sshd close the old listener first
	for _, a := range addrs {
		for {
			err := banner(ctx, a, time.Until(deadline))
			if err == nil {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("sshd does not answer on %s again after the reload: %w", a, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// banner connects and reads the server's identification line.
func banner(ctx context.Context, addr string, within time.Duration) error {
	within = max(within, 500*time.Millisecond)
	d := net.Dialer{Timeout: within}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(within))
	b := make([]byte, 0, 256)
	buf := make([]byte, 256)
	for len(b) < cap(b) {
		n, err := c.Read(buf[:cap(b)-len(b)])
		b = append(b, buf[:n]...)
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			if bytes.HasPrefix(b, []byte("SSH-")) {
				return nil
			}
			b = b[i+1:] // RFC 4253: lines before the version line are allowed
			continue
		}
		if err != nil {
			return fmt.Errorf("no SSH banner: %w", err)
		}
	}
	return errors.New("no SSH banner in the first 256 bytes")
}

// canListen catches a configuration sshd -t accepts but sshd cannot start
// on: sshd -t does not bind, and a reload makes sshd re-execute on the new
// files, so a ListenAddress that is no address of this host (a typo, an
// address moved to another interface) kills the running server. sshd
// gives up only when it can bind none of its addresses; so does this
// check. The port is left to the kernel (0): sshd itself holds the real
// ones.
func canListen(ctx context.Context, env *host.Env, opt Options) error {
	out, err := env.Cmd.Run(ctx, opt.Check.SshdPath, "-T", "-f", opt.Check.ConfigPath)
	if err != nil {
		return fmt.Errorf("sshd -T of the new configuration: %w", err)
	}
	s, err := sshcheck.ParseSshdT(out)
	if err != nil {
		return err
	}
	var why []string
	for _, a := range s["listenaddress"] {
		h, _, err := net.SplitHostPort(a)
		if err != nil {
			h = strings.Trim(a, "[]")
		}
		l, err := net.Listen("tcp", net.JoinHostPort(h, "0"))
		if err == nil {
			l.Close()
			return nil
		}
		why = append(why, a+": "+err.Error())
	}
	if len(why) == 0 {
		return nil
	}
	return fmt.Errorf("sshd -t accepts the configuration, but sshd could not start on it: it can listen on none of its addresses (%s)", strings.Join(why, "; "))
}
