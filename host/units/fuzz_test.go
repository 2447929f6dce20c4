package units

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/internal/fuzzseed"
)

func FuzzParseStreamAddress(f *testing.F) {
	for _, s := range []string{"22", "0.0.0.0:22", "[::]:22", "192.0.2.1:22", "[fe80::1]:22%eth0", "/run/x.sock", "vsock:2:22", "[::ffff:1.2.3.4]:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		a, err := ParseStreamAddress(in)
		if err != nil {
			return
		}
		if a.Port < 1 || a.Port > 65535 {
			t.Fatalf("%q: port %d", in, a.Port)
		}
		// What is accepted dials as given and reads back the same.
		host, _, err := net.SplitHostPort(a.String())
		if err != nil || host != a.Host {
			t.Fatalf("%q gives %q, which does not split back: %v", in, a.String(), err)
		}
		if b, err := ParseStreamAddress(systemdSpelling(a)); err != nil || b != a {
			t.Fatalf("%q gives %v, read back as %v %v", in, a, b, err)
		}
	})
}

// systemdSpelling writes an address as a ListenStream= value.
func systemdSpelling(a StreamAddr) string {
	port := strconv.Itoa(a.Port)
	if a.Host == "" {
		return port
	}
	if ip, zone, ok := strings.Cut(a.Host, "%"); ok {
		return "[" + ip + "]:" + port + "%" + zone
	}
	return a.String()
}

func FuzzApplyUnitFile(f *testing.F) {
	fuzzseed.Files(f, "testdata/socket-units/*.socket", "testdata/socket-units/*.conf")
	f.Add([]byte("[Socket]\nListenStream=\\\n 2222\nAccept=yes\n; c\n[Install]\nListenStream=1\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var s SocketSettings
		s.ApplyUnitFile(in)
		s.ApplyUnitFile(in)
		if len(s.Listen) > maxListens {
			t.Fatalf("%d addresses kept", len(s.Listen))
		}
		addrs, err := TCP(s.Listen)
		for _, a := range addrs {
			if a.Port < 1 || a.Port > 65535 {
				t.Fatalf("port %d", a.Port)
			}
		}
		if err != nil && errors.Is(err, ErrNotIP) {
			t.Fatal("an AF_UNIX address reported as unreadable")
		}
	})
}
