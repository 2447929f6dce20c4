package firewall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"strconv"
	"strings"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	fwcheck "github.com/vigie-agent/vigie/checks/firewall"
	"github.com/vigie-agent/vigie/remediations"
)

// Options say where the ruleset goes and what must stay open.
type Options struct {
	Check fwcheck.Options
	// SSHPorts are the ports sshd listens on: never closed.
	SSHPorts []int
	// Allowed are the configured public services ("443/tcp").
	Allowed []string
	// PersistFile holds vigie's table for the boot; UnitFile is the unit
	// that loads it (vigie-firewall.service). Both are paths on the
	// inspected system.
	PersistFile string
	UnitFile    string
	// Force applies even where firewalld or ufw manage the ruleset.
	Force bool
	// Forward is "deny" to drop forwarded traffic by default even on a
	// host that routes; "auto" (or "") leaves forward alone there.
	Forward string
	// Units is the service manager the engine enables the boot unit
	// through, asked here whether it is enabled already; nil where
	// systemd does not run leaves enabling it to the operator, and the
	// plan says so.
	Units remediations.Units
}

// BuildPlan decides the changes from the firewall facts.
//
// A host fixed by an older vigie has `include "/etc/vigie/vigie.nft"` in
// /etc/nftables.conf and nftables.service enabled. The plan leaves both:
// nftables.service loads the file first and vigie-firewall.service, ordered
// after it, loads it again, and the file is idempotent (it adds, deletes
// and re-creates table inet vigie in one transaction), so the table is
// the same whichever loads it and however often. Removing the line would
// edit a file the operator may have changed since, and disabling
// nftables.service might undo the operator's own choice; undoing that
// older run restores nftables.conf from its own backup.
func BuildPlan(ctx context.Context, env *host.Env, f *fwcheck.Facts, opt Options) (*remediations.Plan, error) {
	p := &remediations.Plan{Area: "firewall"}
	if f.Ruleset == nil {
		return nil, fmt.Errorf("cannot read the nftables ruleset: %s", f.RulesetErr)
	}
	nft, err := exec.LookPath(opt.Check.NftPath)
	if err != nil {
		p.Refusals = append(p.Refusals, "nft is not installed: nothing could load the ruleset at boot (apt-get install nftables)")
		return p, nil
	}
	if mgr := manager(f); mgr != "" && !opt.Force {
		p.Refusals = append(p.Refusals, mgr+" manages this host's firewall: change it through "+mgr+", or run with --force to add vigie's table beside it")
		return p, nil
	}
	spec := Spec{Forward: true}
	if routes := routing(f); len(routes) > 0 && opt.Forward != "deny" {
		spec.Forward = false
		p.Notes = append(p.Notes, "Forwarded traffic left alone: this host routes ("+strings.Join(routes, "; ")+
			"), and a drop policy in vigie's table would drop what those rules accept. Set firewall.forward: deny to drop it by default anyway.")
	}
	for _, port := range opt.SSHPorts {
		spec.Ports = append(spec.Ports, Port{Proto: "tcp", Port: port, Why: "sshd"})
	}
	for _, a := range opt.Allowed {
		port, err := ParsePort(a, "firewall.allowed_ports")
		if err != nil {
			return nil, err
		}
		spec.Ports = append(spec.Ports, port)
	}
	if len(opt.SSHPorts) == 0 {
		p.Refusals = append(p.Refusals, "sshd listens on no port vigie could find: the ruleset would close every remote access, so it is not applied")
		return p, nil
	}
	files := []remediations.FileChange{
		{Path: env.Path(opt.PersistFile), Content: []byte(spec.Text()), Mode: 0o644, Why: "vigie's table, loaded at boot by " + BootUnit},
		{Path: env.Path(opt.UnitFile), Content: unitText(nft, opt.PersistFile), Mode: 0o644, Why: "loads vigie's table at boot, before the network, and no other table"},
	}
	for _, fc := range files {
		if remediations.Changed(fc) {
			p.Files = append(p.Files, fc)
		}
	}
	if err := planEnable(ctx, f, opt, p); err != nil {
		return nil, err
	}
	if len(p.Files) == 0 && len(p.Enable) == 0 && f.Ruleset.Evaluate("input", "ipv4").Deny() && vigieTableMatches(f) {
		return p, nil // already in force
	}
	if len(p.Files) == 0 {
		// Files are right but the kernel lost the table (flushed by hand):
		// rewrite the file identically so the engine reapplies it.
		p.Files = append(p.Files, files[0])
	}
	p.Validate = func(ctx context.Context) error {
		out, err := exec.CommandContext(ctx, opt.Check.NftPath, "-c", "-f", env.Path(opt.PersistFile)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("nft -c -f %s: %v: %s", opt.PersistFile, err, bytes.TrimSpace(out))
		}
		return nil
	}
	p.Activate = func(ctx context.Context) error { return Sync(ctx, env.Path(opt.PersistFile), opt) }
	p.Verify = func(ctx context.Context) error { return verify(ctx, env, opt, spec) }
	return p, nil
}

// planEnable asks the engine to enable and start the boot unit unless it
// is enabled already. Started, it is active as nftables.service's part, so
// a restart of nftables.service loads vigie's table again; starting it
// loads the same file the plan's Activate applies. A masked unit is the
// operator's decision: the table is applied, the plan says it will not
// come back at boot.
func planEnable(ctx context.Context, f *fwcheck.Facts, opt Options, p *remediations.Plan) error {
	switch {
	case f.Persist.Units[BootUnit] == "masked":
		p.Refusals = append(p.Refusals, BootUnit+" is masked: vigie does not unmask what an operator masked; the table is not loaded at boot until `systemctl unmask "+BootUnit+"`")
		return nil
	case opt.Units == nil:
		p.Refusals = append(p.Refusals, "systemd is not running: enable "+BootUnit+" yourself so the table comes back after a reboot")
		return nil
	}
	enabled, _, err := opt.Units.State(ctx, BootUnit)
	if err != nil {
		return fmt.Errorf("state of %s: %w", BootUnit, err)
	}
	if !enabled {
		p.Enable = append(p.Enable, remediations.EnableUnit{Name: BootUnit, Start: true, Why: "loads " + opt.PersistFile + " at every boot"})
	}
	return nil
}

// routing says why the host forwards traffic: forwarding on in sysctl,
// or another table with a chain on the forward hook (Docker, Kubernetes,
// libvirt and WireGuard set these up).
func routing(f *fwcheck.Facts) []string {
	var out []string
	for _, fam := range []string{"ipv4", "ipv6"} {
		if f.Forwarding[fam] {
			out = append(out, fam+" forwarding is on")
		}
	}
	for _, t := range f.Ruleset.Tables {
		if t.Family == "inet" && t.Name == TableName {
			continue
		}
		for _, c := range t.Chains {
			if c.Hook == "forward" && !t.Dormant {
				out = append(out, "table "+t.Family+" "+t.Name+" hooks forward (chain "+c.Name+")")
				break
			}
		}
	}
	return out
}

// manager names firewalld or ufw when they manage the live ruleset.
func manager(f *fwcheck.Facts) string {
	for _, t := range f.Ruleset.Tables {
		if strings.HasPrefix(t.Owner, "firewalld") || strings.HasPrefix(t.Owner, "ufw") {
			return strings.Fields(t.Owner)[0]
		}
	}
	for _, u := range []string{"firewalld.service", "ufw.service"} {
		if f.Persist.Units[u] == "enabled" {
			return strings.TrimSuffix(u, ".service")
		}
	}
	return ""
}

func vigieTableMatches(f *fwcheck.Facts) bool {
	for _, t := range f.Ruleset.Tables {
		if t.Family == "inet" && t.Name == TableName {
			return true
		}
	}
	return false
}

// Sync makes the kernel hold what the persisted file says: vigie's table
// through one netlink transaction when the file is one vigie wrote, no
// table when the file is gone (after a revert), and any other content
// through nft. Undo and the recovery of an interrupted run use it too.
func Sync(ctx context.Context, path string, opt Options) error {
	conn, closeNS, err := connIn(opt.Check.NetNS)
	if err != nil {
		return err
	}
	defer closeNS()
	data, err := hostfs.ReadFile(ctx, path, hostfs.Config)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Delete(conn)
	case err != nil:
		return err
	}
	if spec := (Spec{Ports: portsOf(data), Forward: bytes.Contains(data, []byte("hook forward"))}); bytes.Equal([]byte(spec.Text()), data) {
		return spec.Apply(conn)
	}
	argv := append(append([]string(nil), opt.Check.CmdPrefix...), opt.Check.NftPath, "-f", path)
	if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
		return fmt.Errorf("nft -f %s: %v: %s", path, err, bytes.TrimSpace(out))
	}
	return nil
}

// portsOf reads the ports back from the spec's own text, so activation
// after a restart of vigie needs nothing but the file.
func portsOf(text []byte) []Port {
	var out []Port
	for _, l := range strings.Split(string(text), "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && (f[0] == "tcp" || f[0] == "udp") && f[1] == "dport" && f[3] == "accept" {
			if n, err := strconv.Atoi(f[2]); err == nil {
				why := ""
				if len(f) >= 6 && f[4] == "comment" {
					why = strings.Trim(strings.Join(f[5:], " "), `"`)
				}
				out = append(out, Port{Proto: f[0], Port: n, Why: why})
			}
		}
	}
	return out
}

func connIn(ns string) (*nftables.Conn, func(), error) {
	if ns == "" {
		c, err := nftables.New()
		return c, func() {}, err
	}
	fd, err := unix.Open(ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", ns, err)
	}
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		unix.Close(fd)
		return nil, nil, err
	}
	return c, func() { unix.Close(fd) }, nil
}

// verify reads the live ruleset again and evaluates it like the check:
// default deny for every family, and every port that must stay open
// admitted.
func verify(ctx context.Context, env *host.Env, opt Options, spec Spec) error {
	f := fwcheck.Gather(ctx, env, opt.Check)
	if f.Ruleset == nil {
		return fmt.Errorf("read the ruleset back: %s", f.RulesetErr)
	}
	var bad []string
	for _, fam := range f.Families() {
		hv := f.Ruleset.Evaluate("input", fam)
		if !hv.Deny() {
			bad = append(bad, fam+" input is not default-deny")
		}
		for _, p := range spec.sortedPorts() {
			if ok, why := hv.Admits(p.Proto, p.Port); !ok {
				bad = append(bad, fmt.Sprintf("%s %d/%s would be closed: %s", fam, p.Port, p.Proto, why))
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}
