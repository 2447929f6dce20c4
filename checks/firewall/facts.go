package firewall

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"
	"github.com/vigie-agent/vigie/host/units"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// Options are the firewall area's settings.
type Options struct {
	// AllowedPorts are services meant to be public, as "80/tcp".
	AllowedPorts []string
	NftPath      string
	// PersistFiles are the files nftables.service loads, first found wins
	// (Debian, then the RHEL family).
	PersistFiles []string
	// NetNS is a network namespace file to inspect instead of vigie's own
	// (/run/netns/NAME, /proc/PID/ns/net); NetDir then names a procfs
	// directory whose net/ files belong to that namespace (/proc/PID).
	NetNS  string
	NetDir string
	// CmdPrefix runs the area's commands inside that namespace, e.g.
	// ["ip", "netns", "exec", "NAME"].
	CmdPrefix []string
}

// DefaultOptions inspect the host vigie runs on.
func DefaultOptions() Options {
	return Options{
		NftPath:      "/usr/sbin/nft",
		PersistFiles: []string{"/etc/nftables.conf", "/etc/sysconfig/nftables.conf"},
	}
}

// Facts is everything the firewall rules need, read once.
type Facts struct {
	Ruleset      *Ruleset
	RulesetErr   string
	IPv6Disabled bool
	Forwarding   map[string]bool // ipv4, ipv6
	BindV6Only   bool
	Listeners    []Listener
	ListenersErr string
	Legacy       Legacy
	Persist      Persistence
	Allowed      map[string]bool // "22/tcp"
	// SSHSocket is ssh.socket or sshd.socket when one is active or
	// enabled: PID 1 holds its ports for sshd.
	SSHSocket *units.Socket
}

// Families lists the IP families the host speaks.
func (f *Facts) Families() []string {
	if f.IPv6Disabled {
		return []string{"ipv4"}
	}
	return []string{"ipv4", "ipv6"}
}

// Gather reads the firewall facts.
func Gather(ctx context.Context, env *host.Env, opt Options) *Facts {
	f := &Facts{Forwarding: map[string]bool{}, Allowed: map[string]bool{}}
	for _, p := range opt.AllowedPorts {
		f.Allowed[strings.ToLower(p)] = true
	}
	if env.Image {
		return gatherImage(ctx, env, opt, f)
	}
	netDir := opt.NetDir
	if netDir == "" {
		netDir = env.Proc
	}
	f.IPv6Disabled = readSysctl(ctx, netDir, "net/ipv6/conf/all/disable_ipv6") == "1"
	if _, err := os.Stat(netDir + "/net/if_inet6"); errors.Is(err, fs.ErrNotExist) {
		f.IPv6Disabled = true
	}
	f.Forwarding["ipv4"] = readSysctl(ctx, netDir, "net/ipv4/ip_forward") == "1"
	f.Forwarding["ipv6"] = readSysctl(ctx, netDir, "net/ipv6/conf/all/forwarding") == "1"
	f.BindV6Only = readSysctl(ctx, netDir, "net/ipv6/bindv6only") == "1"

	var wg sync.WaitGroup
	wg.Go(func() {
		rs, err := readLive(opt.NetNS)
		if err != nil {
			f.RulesetErr = err.Error()
			return
		}
		f.Ruleset = rs
	})
	wg.Go(func() {
		ls, err := ReadListeners(netDir, env.Proc)
		if err != nil {
			f.ListenersErr = err.Error()
		}
		f.Listeners = ls
	})
	wg.Go(func() { f.Legacy = readLegacy(ctx, env, netDir, opt) })
	if opt.NetNS == "" {
		wg.Go(func() { f.Persist = readPersistence(ctx, env, opt) })
		wg.Go(func() { f.SSHSocket = units.SSHSocket(ctx, env) })
	} else {
		f.Persist = Persistence{Units: map[string]string{}, LoadErr: "not evaluated for a network namespace other than the host's"}
	}
	wg.Wait()
	return f
}

// readLive reads the ruleset of the namespace at path ("" for vigie's own).
func readLive(path string) (*Ruleset, error) {
	var opts []nftables.ConnOption
	fd := 0
	if path != "" {
		var err error
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("open network namespace %s: %w", path, err)
		}
		defer unix.Close(fd)
		opts = append(opts, nftables.WithNetNSFd(fd))
	}
	conn, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("nftables netlink: %w", err)
	}
	names, err := DumpExprNames(fd)
	if err != nil {
		return nil, err
	}
	return ReadRuleset(conn, names)
}

func readSysctl(ctx context.Context, procDir, name string) string {
	b, err := hostfs.ReadFile(ctx, procDir+"/sys/"+name, hostfs.Small)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Legacy is what the old x_tables interface holds: rules there are
// enforced but invisible to nft and to this area's ruleset reading.
type Legacy struct {
	Tables map[string][]string // "ipv4" -> table names loaded
	Rules  []string            // -A lines and non-ACCEPT policies from iptables-legacy-save
	Err    string
}

func readLegacy(ctx context.Context, env *host.Env, netDir string, opt Options) Legacy {
	l := Legacy{Tables: map[string][]string{}}
	tools := map[string]string{"ipv4": "iptables-legacy-save", "ipv6": "ip6tables-legacy-save"}
	files := map[string]string{"ipv4": "ip_tables_names", "ipv6": "ip6_tables_names"}
	for _, fam := range []string{"ipv4", "ipv6"} {
		b, err := hostfs.ReadFile(ctx, netDir+"/net/"+files[fam], hostfs.Small)
		if err != nil {
			continue // module not loaded: no legacy table can exist
		}
		l.Tables[fam] = append(l.Tables[fam], strings.Fields(string(b))...)
		if len(l.Tables[fam]) == 0 {
			continue
		}
		argv := append(append([]string(nil), opt.CmdPrefix...), tools[fam])
		out, err := env.Cmd.Run(ctx, argv[0], argv[1:]...)
		if err != nil {
			if host.NotFound(err) {
				l.Err = fmt.Sprintf("%s tables %v are loaded but %s is not installed to list their rules", fam, l.Tables[fam], tools[fam])
			} else {
				l.Err = err.Error()
			}
			continue
		}
		for _, r := range legacyRules(out) {
			l.Rules = append(l.Rules, fam+": "+r)
		}
	}
	return l
}

// legacyRules picks from iptables-save output the lines that change
// traffic: rules, and built-in chain policies other than ACCEPT.
func legacyRules(out []byte) []string {
	var rules []string
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "*"):
			table = line[1:]
		case strings.HasPrefix(line, "-A "):
			rules = append(rules, table+" "+line)
		case strings.HasPrefix(line, ":"):
			f := strings.Fields(line[1:])
			if len(f) >= 2 && f[1] != "ACCEPT" && f[1] != "-" {
				rules = append(rules, table+" policy "+f[0]+" "+f[1])
			}
		}
	}
	return rules
}

// sshdPort reports whether a listener is sshd's, always allowed since the
// seed's own access path is SSH: a socket of an sshd process, or one PID 1
// holds on an address of an active ssh.socket or sshd.socket (see
// heldBySSHSocket).
func (f *Facts) sshdPort(l Listener) bool {
	return l.Proto == "tcp" && (strings.HasPrefix(l.Process, "sshd") || f.heldBySSHSocket(l))
}

// heldBySSHSocket reports whether a listener is one systemd holds for
// socket-activated sshd: PID 1 listens, not sshd, which starts only once a
// connection comes (or, with Accept=yes, once per connection).
func (f *Facts) heldBySSHSocket(l Listener) bool {
	if f.SSHSocket == nil || !f.SSHSocket.Active() || l.PID != 1 || l.Proto != "tcp" {
		return false
	}
	for _, a := range f.SSHSocket.Addrs() {
		if a.Port != l.Port {
			continue
		}
		if a.Host == "" {
			return true // a bare port: every address
		}
		host, _, _ := strings.Cut(a.Host, "%")
		if ip := net.ParseIP(host); ip != nil && (ip.Equal(l.Addr) || ip.IsUnspecified() && l.Addr.IsUnspecified()) {
			return true
		}
	}
	return false
}

func (f *Facts) allowed(l Listener) bool {
	return f.Allowed[strconv.Itoa(l.Port)+"/"+l.Proto]
}
