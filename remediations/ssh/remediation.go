package ssh

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	sshcheck "github.com/vigie-agent/vigie/checks/ssh"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"
	"github.com/vigie-agent/vigie/remediations"
)

// Remediation is the SSH area's remediations.Remediation: a drop-in that
// wins over the main file and cloud-init's, an ED25519 host key, sshd
// reloaded and probed again.
type Remediation struct {
	Check sshcheck.Options
}

// The area implements the engine's interface.
var _ remediations.Remediation = (*Remediation)(nil)

// New returns the SSH remediation for the area's options.
func New(check sshcheck.Options) *Remediation { return &Remediation{Check: check} }

// Name implements remediations.Remediation.
func (r *Remediation) Name() string { return "ssh" }

// Plan implements remediations.Remediation.
func (r *Remediation) Plan(ctx context.Context, env *host.Env, req remediations.Request) (*remediations.Plan, error) {
	f := sshcheck.Gather(ctx, env, r.Check)
	dir := filepath.Dir(r.Check.ConfigPath)
	return BuildPlan(ctx, env, f, Options{
		Check:    r.Check,
		DropIn:   filepath.Join(dir, "sshd_config.d", "00-vigie.conf"),
		HostKey:  filepath.Join(dir, "ssh_host_ed25519_key"),
		Operator: operatorOf(env, f.Accounts),
		Force:    req.Force,
		Reload:   reloaderOf(f),
	})
}

// unsetLoginUID is the kernel's audit login uid of a process no login
// session started (a service, cloud-init).
const unsetLoginUID = 4294967295

// operatorOf names the account of whoever runs the fix: the audit login
// uid, which su and sudo keep and a login session sets, else sudo's
// SUDO_USER; "" for a service or cloud-init, or on an inspected root.
func operatorOf(env *host.Env, accts []sshcheck.Account) string {
	if !env.Live() {
		return ""
	}
	if b, err := hostfs.ReadFile(context.Background(), "/proc/self/loginuid", hostfs.Small); err == nil {
		if uid, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32); err == nil && uid != unsetLoginUID {
			for _, a := range accts {
				if uint64(a.UID) == uid {
					return a.Name
				}
			}
		}
	}
	if u := os.Getenv("SUDO_USER"); u != "" && slices.ContainsFunc(accts, func(a sshcheck.Account) bool { return a.Name == u }) {
		return u
	}
	return ""
}

// Activate reloads sshd on its configuration as the files now say.
func (r *Remediation) Activate(ctx context.Context, env *host.Env) error {
	return reloaderOf(sshcheck.Gather(ctx, env, r.configOnly()))(ctx)
}

// CanCutOff implements remediations.Remediation: sshd is the way in.
func (r *Remediation) CanCutOff() bool { return true }

// NeedsNewConnection implements remediations.Remediation: an sshd reloaded with the new configuration answers the
// live probe on a new connection already, and a session that confirms is
// a session sshd let in before.
func (r *Remediation) NeedsNewConnection() bool { return false }

// RestoresInterrupted implements remediations.Remediation.
func (r *Remediation) RestoresInterrupted() bool { return true }

// Destructive implements remediations.Remediation.
func (r *Remediation) Destructive() bool { return false }

// Undoable implements remediations.Remediation.
func (r *Remediation) Undoable(string) error { return nil }

// Applied implements remediations.Remediation.
func (r *Remediation) Applied(run, _ string) string {
	return fmt.Sprintf("run %s; `vigie undo %s` reverts it", run, run)
}

// KeepOpen lists the ports sshd listens on: those of its effective
// configuration and those of its socket unit (see keepOpen).
func (r *Remediation) KeepOpen(ctx context.Context, env *host.Env) []int {
	return keepOpen(sshcheck.Gather(ctx, env, r.configOnly()))
}

// keepOpen lists the ports of sshd's configuration and, when ssh.socket or
// sshd.socket is active or enabled, the socket's: systemd holds those now
// or from the next boot, and sshd's own may serve again if the socket is
// turned off. Closing either would cut the operator off.
func keepOpen(f *sshcheck.Facts) []int {
	var out []int
	add := func(p int) {
		if p > 0 && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for _, a := range f.Global["listenaddress"] {
		if i := strings.LastIndexByte(a, ':'); i >= 0 {
			if p, err := strconv.Atoi(a[i+1:]); err == nil {
				add(p)
			}
		}
	}
	if f.Socket != nil {
		for _, p := range f.Socket.Ports() {
			add(p)
		}
	}
	return out
}

// configOnly reads sshd's configuration without probing the server: the
// ports and the pid file are all a reload or a ruleset needs.
func (r *Remediation) configOnly() sshcheck.Options {
	o := r.Check
	o.Probe = false
	return o
}

// reloaderOf reloads the sshd these facts describe and waits for the
// addresses it really listens on: its socket unit's when it is
// socket-activated, else its listenaddress.
func reloaderOf(f *sshcheck.Facts) func(context.Context) error {
	r := reload{pidFile: f.Global.Get("pidfile"), listen: sshcheck.ProbeTargets(f.Listening())}
	if f.SocketActivated() {
		r.socket = f.Socket
	}
	return r.run
}
