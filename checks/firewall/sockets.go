package firewall

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/procfs"
)

// Listener is a socket waiting for connections (TCP) or datagrams (UDP).
type Listener struct {
	Proto   string // tcp, udp
	Addr    net.IP
	Port    int
	Inode   uint64
	Process string // command name of the owner, when readable
	PID     int
}

// Families returns the IP families a listener receives: an IPv6 wildcard
// socket also receives IPv4 unless net.ipv6.bindv6only is set.
func (l Listener) Families(bindV6Only bool) []string {
	switch {
	case l.Addr.To4() != nil:
		return []string{"ipv4"}
	case l.Addr.IsUnspecified() && !bindV6Only:
		return []string{"ipv4", "ipv6"}
	}
	return []string{"ipv6"}
}

// Loopback reports whether only this host can reach the socket.
func (l Listener) Loopback() bool {
	if l.Addr.IsLoopback() {
		return true
	}
	// ::ffff:127.0.0.1
	if v4 := l.Addr.To4(); v4 != nil && v4.IsLoopback() {
		return true
	}
	return false
}

// Subject names the listener the way a waiver does, port and protocol
// first ("8080/tcp on 0.0.0.0 (python3)"), so that `subject: 8080/tcp`
// covers the port on every address it listens on. No pid: a restarted
// service is the same subject, not a change (the reason names the pid).
func (l Listener) Subject() string {
	s := fmt.Sprintf("%d/%s on %s", l.Port, l.Proto, l.Addr.String())
	if l.Process != "" {
		s += fmt.Sprintf(" (%s)", l.Process)
	}
	return s
}

func (l Listener) String() string {
	s := fmt.Sprintf("%s %s", l.Proto, net.JoinHostPort(l.Addr.String(), strconv.Itoa(l.Port)))
	if l.Process != "" {
		s += fmt.Sprintf(" (%s, pid %d)", l.Process, l.PID)
	}
	return s
}

const (
	tcpListen  = 0x0a
	udpUnconn  = 0x07
	maxProcFDs = 1 << 16
)

// ReadListeners reads the listening sockets from the net/ files under
// netDir (a procfs mount, or /proc/PID for another network namespace) and
// finds their owners among the processes under procRoot.
func ReadListeners(netDir, procRoot string) ([]Listener, error) {
	pfs, err := procfs.NewFS(netDir)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", netDir, err)
	}
	var out []Listener
	type source struct {
		name  string
		proto string
		read  func() ([]*sockLine, error)
	}
	// procfs marks its /proc/net readers deprecated in favour of sock_diag
	// over netlink; the files are kept on purpose: they are per namespace
	// through /proc/PID/net, readable from a captured tree in tests, and
	// they are what an operator can check by hand.
	sources := []source{
		//lint:ignore SA1019 see above
		{"net/tcp", "tcp", func() ([]*sockLine, error) { s, err := pfs.NetTCP(); return tcpLines(s), err }},
		//lint:ignore SA1019 see above
		{"net/tcp6", "tcp", func() ([]*sockLine, error) { s, err := pfs.NetTCP6(); return tcpLines(s), err }},
		{"net/udp", "udp", func() ([]*sockLine, error) { s, err := pfs.NetUDP(); return udpLines(s), err }},
		{"net/udp6", "udp", func() ([]*sockLine, error) { s, err := pfs.NetUDP6(); return udpLines(s), err }},
	}
	for _, src := range sources {
		lines, err := safeRead(src.read)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && strings.HasSuffix(src.name, "6") {
				continue // IPv6 disabled in the kernel
			}
			return nil, fmt.Errorf("read %s/%s: %w", netDir, src.name, err)
		}
		for _, l := range lines {
			listening := (src.proto == "tcp" && l.st == tcpListen) || (src.proto == "udp" && l.st == udpUnconn && l.remPort == 0)
			if !listening {
				continue
			}
			out = append(out, Listener{Proto: src.proto, Addr: l.addr, Port: l.port, Inode: l.inode})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Port != out[j].Port {
			return out[i].Port < out[j].Port
		}
		return out[i].Proto < out[j].Proto
	})
	if procRoot != "" {
		owners(procRoot, out)
	}
	return out, nil
}

type sockLine struct {
	addr    net.IP
	port    int
	remPort int
	st      uint64
	inode   uint64
}

func tcpLines(s procfs.NetTCP) []*sockLine {
	out := make([]*sockLine, 0, len(s))
	for _, l := range s {
		if validPorts(l.LocalPort, l.RemPort) {
			out = append(out, &sockLine{addr: l.LocalAddr, port: int(l.LocalPort), remPort: int(l.RemPort), st: l.St, inode: l.Inode})
		}
	}
	return out
}

func udpLines(s procfs.NetUDP) []*sockLine {
	out := make([]*sockLine, 0, len(s))
	for _, l := range s {
		if validPorts(l.LocalPort, l.RemPort) {
			out = append(out, &sockLine{addr: l.LocalAddr, port: int(l.LocalPort), remPort: int(l.RemPort), st: l.St, inode: l.Inode})
		}
	}
	return out
}

// validPorts drops a line no kernel writes: procfs parses the hex field
// into 64 bits, and a port past 65535 is no socket at all (found by
// FuzzReadListeners).
func validPorts(ports ...uint64) bool {
	for _, p := range ports {
		if p > 65535 {
			return false
		}
	}
	return true
}

// owners fills in the process holding each exposed socket, by matching
// socket inodes with the targets of every process's file descriptors. It
// only looks when some socket is not loopback-only.
func owners(procRoot string, ls []Listener) {
	want := map[uint64][]int{}
	for i, l := range ls {
		if !l.Loopback() && l.Inode != 0 {
			want[l.Inode] = append(want[l.Inode], i)
		}
	}
	if len(want) == 0 {
		return
	}
	pfs, err := procfs.NewFS(procRoot)
	if err != nil {
		return
	}
	procs, err := pfs.AllProcs()
	if err != nil {
		return
	}
	for _, p := range procs {
		targets, err := p.FileDescriptorTargets()
		if err != nil || len(targets) > maxProcFDs {
			continue
		}
		for _, t := range targets {
			if !strings.HasPrefix(t, "socket:[") {
				continue
			}
			ino, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(t, "socket:["), "]"), 10, 64)
			if err != nil {
				continue
			}
			idx, ok := want[ino]
			if !ok {
				continue
			}
			comm, _ := p.Comm()
			for _, i := range idx {
				ls[i].Process, ls[i].PID = comm, p.PID
			}
			delete(want, ino)
		}
		if len(want) == 0 {
			return
		}
	}
}

// safeRead turns a panic of the procfs parser into an error: procfs
// v0.23.0 indexes past the fields of a short /proc/net/udp line, and a
// malformed file must give an error finding, never a crash.
func safeRead(read func() ([]*sockLine, error)) (lines []*sockLine, err error) {
	defer func() {
		if r := recover(); r != nil {
			lines, err = nil, fmt.Errorf("malformed content: %v", r)
		}
	}()
	return read()
}
