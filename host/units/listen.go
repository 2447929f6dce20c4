package units

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Listen is one listening address of a socket unit as systemd spells it:
// the Type of the Listen property ("Stream" for ListenStream=) and its
// address ("[::]:22", "0.0.0.0:22", "2222", "/run/x.sock", "vsock:2:22").
type Listen struct {
	Type    string
	Address string
}

// StreamAddr is a TCP address a socket unit listens on. Host "" stands for
// a bare port, which systemd binds on every address of both families.
type StreamAddr struct {
	Host string
	Port int
}

// String is the address as ProbeTargets and net.Dial read it: ":2222" for a
// bare port, "[::]:22", "192.0.2.1:22".
func (a StreamAddr) String() string { return net.JoinHostPort(a.Host, strconv.Itoa(a.Port)) }

// ErrNotIP marks a listening address that is not TCP over IP: an AF_UNIX
// path, an abstract socket, AF_VSOCK. It is no port a firewall filters.
var ErrNotIP = errors.New("not an IP address")

// ParseStreamAddress reads a ListenStream= value, or an address of the
// Listen property, the way systemd's socket_address_parse does for the IP
// forms: "PORT", "IPV4:PORT", "[IPV6]:PORT", each with an optional
// "%INTERFACE" scope after the port. A path, an abstract name and vsock
// addresses are ErrNotIP.
func ParseStreamAddress(s string) (StreamAddr, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return StreamAddr{}, errors.New("empty address")
	case strings.HasPrefix(s, "/"), strings.HasPrefix(s, "@"), strings.HasPrefix(s, "vsock"):
		return StreamAddr{}, ErrNotIP
	}
	hostPort, scope, _ := strings.Cut(s, "%")
	if all(hostPort, isDigit) {
		if scope != "" {
			return StreamAddr{}, fmt.Errorf("%q: a bare port takes no interface", s)
		}
		p, err := parsePort(hostPort)
		return StreamAddr{Port: p}, err
	}
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return StreamAddr{}, fmt.Errorf("%q: %w", s, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return StreamAddr{}, fmt.Errorf("%q: %q is not a numeric IP address", s, host)
	}
	if v6 := strings.HasPrefix(hostPort, "["); v6 != ip.Is6() {
		return StreamAddr{}, fmt.Errorf("%q: IPv6 addresses are written in brackets, IPv4 ones without", s)
	}
	p, err := parsePort(port)
	if err != nil {
		return StreamAddr{}, fmt.Errorf("%q: %w", s, err)
	}
	if scope != "" {
		if !ip.Is6() || !validInterface(scope) {
			return StreamAddr{}, fmt.Errorf("%q: bad interface scope", s)
		}
		// A link-local address is dialled with its zone.
		ip = ip.WithZone(scope)
	}
	return StreamAddr{Host: ip.String(), Port: p}, nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 || !all(s, isDigit) {
		return 0, fmt.Errorf("port %q is not between 1 and 65535", s)
	}
	return p, nil
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func all(s string, ok func(rune) bool) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !ok(r) {
			return false
		}
	}
	return true
}

// validInterface accepts what the kernel accepts as an interface name:
// shorter than IFNAMSIZ, printable, no slash, colon or space.
func validInterface(s string) bool {
	return len(s) < 16 && all(s, func(r rune) bool {
		// Brackets would break the [address%zone]:port form it is dialled in.
		return r > ' ' && r < 0x7f && !strings.ContainsRune("/%:[]", r)
	})
}

// TCP returns the IP stream addresses among listens, skipping AF_UNIX and
// vsock ones; the error lists the addresses that could not be read.
func TCP(listens []Listen) ([]StreamAddr, error) {
	var out []StreamAddr
	var bad []string
	for _, l := range listens {
		if l.Type != "Stream" {
			continue
		}
		a, err := ParseStreamAddress(l.Address)
		switch {
		case errors.Is(err, ErrNotIP):
		case err != nil:
			bad = append(bad, err.Error())
		default:
			out = append(out, a)
		}
	}
	if bad != nil {
		return out, fmt.Errorf("unreadable listening address: %s", strings.Join(bad, "; "))
	}
	return out, nil
}

// listenKeys are the settings of a [Socket] section that add listening
// addresses, with the type systemd's Listen property gives each. An empty
// assignment to any of them resets the whole list (systemd.socket(5)).
var listenKeys = map[string]string{
	"ListenStream": "Stream", "ListenDatagram": "Datagram", "ListenSequentialPacket": "SequentialPacket",
	"ListenFIFO": "FIFO", "ListenSpecial": "Special", "ListenNetlink": "Netlink",
	"ListenMessageQueue": "MessageQueue", "ListenUSBFunction": "USBFunction",
}

// SocketSettings is what the [Socket] sections of a unit file and its
// drop-ins set, of what vigie needs.
type SocketSettings struct {
	Listen []Listen
	Accept bool
}

// maxListens bounds the addresses kept from files someone else wrote.
const maxListens = 256

// ApplyUnitFile reads one socket unit file or drop-in over s, as systemd
// reads them in turn: each Listen*= line appends, an empty one resets the
// list, the last Accept= wins. Comments (# and ;), sections other than
// [Socket] and backslash continuations are handled as systemd does.
func (s *SocketSettings) ApplyUnitFile(data []byte) {
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var cont strings.Builder
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cont.Len() == 0 && (line == "" || line[0] == '#' || line[0] == ';') {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cont.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		if cont.Len() > 0 {
			cont.WriteString(line)
			line = cont.String()
			cont.Reset()
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || section != "Socket" {
			continue
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if typ, ok := listenKeys[key]; ok {
			if value == "" {
				s.Listen = nil
			} else if len(s.Listen) < maxListens {
				s.Listen = append(s.Listen, Listen{Type: typ, Address: value})
			}
			continue
		}
		if key == "Accept" {
			s.Accept = parseBool(value)
		}
	}
}

// parseBool reads a systemd boolean; anything else is false, as systemd
// keeps the default (no) for an Accept= it cannot parse.
func parseBool(v string) bool {
	switch strings.ToLower(v) {
	case "1", "yes", "y", "true", "t", "on":
		return true
	}
	return false
}
