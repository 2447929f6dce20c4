package ssh

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"

	xssh "golang.org/x/crypto/ssh"
)

// ProbeResult is what a running sshd showed a client that presented no
// credentials: the algorithms of its first key exchange message and the
// authentication methods it allows after "none".
type ProbeResult struct {
	Address           string
	ServerVersion     string
	HostKeyAlgorithms []string // as the server's KEXINIT lists them
	KexAlgorithms     []string
	Ciphers           []string // server to client
	MACs              []string // server to client
	HostKeyType       string   // the key the server presented
	AuthMethods       []string // nil when authentication was not reached
	Refused           bool     // nothing listens at Address
	Err               string
}

// errProbeDone stops authentication once the allowed methods are known:
// returning it from the auth callback guarantees no credential is sent.
var errProbeDone = errors.New("probe complete")

const maxRecorded = 64 << 10

// Probe connects to one sshd address, as a client that knows no secret, and
// records what the server offers. It opens exactly one TCP connection.
func Probe(ctx context.Context, address, user string, timeout time.Duration) ProbeResult {
	res := ProbeResult{Address: address}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		res.Refused = errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, syscall.ENETUNREACH)
		res.Err = err.Error()
		return res
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	// A cancelled context must interrupt a handshake blocked in Read.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	rec := &recordingConn{Conn: conn}
	all := xssh.SupportedAlgorithms()
	weak := xssh.InsecureAlgorithms()
	cfg := &xssh.ClientConfig{
		User: user,
		Config: xssh.Config{
			KeyExchanges: slices.Concat(all.KeyExchanges, weak.KeyExchanges),
			Ciphers:      slices.Concat(all.Ciphers, weak.Ciphers),
			MACs:         slices.Concat(all.MACs, weak.MACs),
		},
		HostKeyAlgorithms: slices.Concat(all.HostKeys, weak.HostKeys),
		HostKeyCallback: func(_ string, _ net.Addr, key xssh.PublicKey) error {
			res.HostKeyType = key.Type()
			return nil // identity is irrelevant: nothing secret is ever sent
		},
		AuthCallback: func(c *xssh.ClientAuthContext) (xssh.AuthMethod, error) {
			res.AuthMethods = slices.Clone(c.AllowedMethods)
			if res.AuthMethods == nil {
				res.AuthMethods = []string{}
			}
			return nil, errProbeDone
		},
		Timeout: timeout,
	}
	c, _, _, err := xssh.NewClientConn(rec, address, cfg)
	if c != nil {
		// The server accepted "none": it lets anyone in.
		res.AuthMethods = []string{"none"}
		c.Close()
	}
	ver, kex, perr := parseServerHello(rec.bytes())
	if perr == nil {
		res.ServerVersion = ver
		res.HostKeyAlgorithms = kex.ServerHostKeyAlgos
		res.KexAlgorithms = kex.KexAlgos
		res.Ciphers = kex.CiphersServerClient
		res.MACs = kex.MACsServerClient
	}
	switch {
	case err != nil && !errors.Is(err, errProbeDone) && res.AuthMethods == nil:
		res.Err = err.Error()
	case perr != nil:
		res.Err = perr.Error()
	}
	return res
}

// recordingConn keeps the first bytes the server sends, where its version
// line and unencrypted KEXINIT are.
type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	if room := maxRecorded - c.buf.Len(); room > 0 && n > 0 {
		c.buf.Write(p[:min(n, room)])
	}
	c.mu.Unlock()
	return n, err
}

func (c *recordingConn) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.buf.Bytes())
}

// kexInit mirrors SSH_MSG_KEXINIT (RFC 4253 section 7.1) for xssh.Unmarshal.
type kexInit struct {
	Cookie                  [16]byte `sshtype:"20"`
	KexAlgos                []string
	ServerHostKeyAlgos      []string
	CiphersClientServer     []string
	CiphersServerClient     []string
	MACsClientServer        []string
	MACsServerClient        []string
	CompressionClientServer []string
	CompressionServerClient []string
	LanguagesClientServer   []string
	LanguagesServerClient   []string
	FirstKexFollows         bool
	Reserved                uint32
}

// parseServerHello reads the server's identification line (RFC 4253 4.2:
// other lines may precede it) and the first binary packet, which must be
// its KEXINIT.
func parseServerHello(b []byte) (string, kexInit, error) {
	var kex kexInit
	var version string
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return "", kex, errors.New("no SSH identification line from server")
		}
		line := string(bytes.TrimRight(b[:i], "\r"))
		b = b[i+1:]
		if len(line) >= 4 && line[:4] == "SSH-" {
			version = line
			break
		}
	}
	if len(b) < 6 {
		return version, kex, errors.New("server sent no KEXINIT")
	}
	plen := binary.BigEndian.Uint32(b)
	pad := int(b[4])
	if plen < 2 || plen > 35000 || int(plen)+4 > len(b) || pad+1 >= int(plen) {
		return version, kex, fmt.Errorf("malformed first packet (length %d, padding %d, have %d bytes)", plen, pad, len(b))
	}
	payload := b[5 : 4+int(plen)-pad]
	if err := xssh.Unmarshal(payload, &kex); err != nil {
		return version, kex, fmt.Errorf("parse KEXINIT: %w", err)
	}
	return version, kex, nil
}
