package ssh

import (
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host/units"
)

// SocketActivated reports whether systemd's socket unit, not sshd, listens
// for sshd now: Ubuntu's default since 22.10, an option on Debian 12 and 13.
// sshd then takes the sockets systemd passes it (Accept=no) or serves one
// connection on standard input (Accept=yes) and never binds its own
// ListenAddress.
func (f *Facts) SocketActivated() bool {
	return f.Socket != nil && f.Socket.Active() && len(f.Socket.Addrs()) > 0
}

// Listening lists the addresses sshd really accepts connections on, as
// "host:port" (a bare port as ":port"): the socket unit's when sshd is
// socket-activated, else the listenaddress sshd -T reports.
func (f *Facts) Listening() []string { return f.listening(f.Global) }

func (f *Facts) listening(s Settings) []string {
	if !f.SocketActivated() {
		return s["listenaddress"]
	}
	return socketAddrs(f.Socket)
}

// socketEvidence says which socket unit holds sshd's addresses and how
// that was learnt.
func (f *Facts) socketEvidence() []checks.Evidence {
	if f.Socket == nil {
		return nil
	}
	s := f.Socket
	ev := []checks.Evidence{{Subject: s.Unit, Key: "listen_stream", Value: socketAddrs(s), Source: s.Via, OK: true}}
	if s.Accept {
		ev = append(ev, checks.Evidence{Subject: s.Unit, Key: "accept", Value: "yes: one sshd per connection", Source: s.Via, OK: true})
	}
	if !f.SocketActivated() {
		ev[0].Want = "not in use now (" + socketState(s) + "): sshd listens on its own addresses"
	}
	if s.Err != "" {
		ev = append(ev, checks.Evidence{Subject: s.Unit, Key: "error", Value: s.Err, Source: s.Via})
	}
	return ev
}

// socketAddrs are a socket unit's TCP addresses as Listening gives them.
func socketAddrs(s *units.Socket) []string {
	out := []string{}
	for _, a := range s.Addrs() {
		out = append(out, a.String())
	}
	return out
}

func socketState(s *units.Socket) string {
	st := s.ActiveState
	if st == "" {
		st = "not enabled"
	}
	if s.FileState != "" {
		st += ", " + s.FileState
	}
	return st
}
