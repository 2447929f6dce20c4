package units

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/vigie-agent/vigie/host"
)

func TestParseStreamAddress(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string // StreamAddr.String(), "unix" for ErrNotIP, "error" for any other error
	}{
		{"22", ":22"},
		{"2222", ":2222"},
		{" 2222 ", ":2222"},
		{"0.0.0.0:22", "0.0.0.0:22"},
		{"[::]:22", "[::]:22"},
		{"192.0.2.1:22", "192.0.2.1:22"},
		{"[2001:db8::1]:2222", "[2001:db8::1]:2222"},
		{"[::ffff:192.0.2.1]:22", "[::ffff:192.0.2.1]:22"},
		{"[fe80::1]:22%eth0", "[fe80::1%eth0]:22"},
		{"/run/ssh-unix-local/socket", "unix"},
		{"@abstract", "unix"},
		{"vsock:2:22", "unix"},
		{"vsock::22", "unix"},
		{"", "error"},
		{"0", "error"},
		{"65536", "error"},
		{"22%eth0", "error"},
		{"::1", "error"},
		{"::1:22", "error"},
		{"[192.0.2.1]:22", "error"},
		{"192.0.2.1:+22", "error"},
		{"host.example:22", "error"},
		{"192.0.2.1:22%eth0", "error"},
		{"[fe80::1%eth0]:22", "error"},
		{"[fe80::1]:22%a/b", "error"},
	} {
		a, err := ParseStreamAddress(tt.in)
		got := a.String()
		switch {
		case errors.Is(err, ErrNotIP):
			got = "unix"
		case err != nil:
			got = "error"
		}
		if got != tt.want {
			t.Errorf("%q: %s (%v), want %s", tt.in, got, err, tt.want)
		}
	}
}

// socketTree is a root holding captured unit files at the paths named.
type socketTree struct {
	files   map[string]string // path in the root -> file under testdata/socket-units, or "=TEXT"
	enabled bool              // linked from sockets.target.wants
	masked  bool
}

func (st socketTree) build(t *testing.T, unit string) string {
	t.Helper()
	root := t.TempDir()
	for p, src := range st.files {
		data := []byte(strings.TrimPrefix(src, "="))
		if !strings.HasPrefix(src, "=") {
			var err error
			if data, err = os.ReadFile(filepath.Join("testdata", "socket-units", src)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, at string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, at)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(root, at)); err != nil {
			t.Fatal(err)
		}
	}
	if st.enabled {
		link("/usr/lib/systemd/system/"+unit, "etc/systemd/system/sockets.target.wants/"+unit)
	}
	if st.masked {
		link("/dev/null", "etc/systemd/system/"+unit)
	}
	return root
}

// TestSocketFromFiles reads socket units from trees of the files Debian
// and Ubuntu install, as vigie does where systemd cannot be asked.
func TestSocketFromFiles(t *testing.T) {
	for _, tt := range []struct {
		name   string
		unit   string
		tree   socketTree
		absent bool
		state  string
		addrs  string
		accept bool
		active bool
		files  int
	}{
		{name: "debian 12 as installed: disabled", unit: "ssh.socket",
			tree:  socketTree{files: map[string]string{"lib/systemd/system/ssh.socket": "debian12-ssh.socket"}},
			state: "disabled", addrs: ":22", files: 1},
		{name: "debian 12 enabled", unit: "ssh.socket",
			tree:  socketTree{files: map[string]string{"lib/systemd/system/ssh.socket": "debian12-ssh.socket"}, enabled: true},
			state: "enabled", addrs: ":22", active: true, files: 1},
		{name: "debian 13 moved to 2222 by a drop-in", unit: "ssh.socket",
			tree: socketTree{files: map[string]string{
				"usr/lib/systemd/system/ssh.socket":         "debian13-ssh.socket",
				"etc/systemd/system/ssh.socket.d/port.conf": "port-2222.conf",
			}, enabled: true},
			state: "enabled", addrs: ":2222", active: true, files: 2},
		{name: "debian 13, drop-in adds a port", unit: "ssh.socket",
			tree: socketTree{files: map[string]string{
				"usr/lib/systemd/system/ssh.socket":         "debian13-ssh.socket",
				"etc/systemd/system/ssh.socket.d/more.conf": "=[Socket]\nListenStream=192.0.2.1:2222\n",
			}, enabled: true},
			state: "enabled", addrs: ":22 192.0.2.1:2222", active: true, files: 2},
		{name: "ubuntu 24.04 with the generator's addresses", unit: "ssh.socket",
			tree: socketTree{files: map[string]string{
				"usr/lib/systemd/system/ssh.socket":                 "ubuntu2404-ssh.socket",
				"run/systemd/generator/ssh.socket.d/addresses.conf": "ubuntu2404-addresses.conf",
			}, enabled: true},
			state: "enabled", addrs: "0.0.0.0:2222 [::]:2222", active: true, files: 2},
		{name: "ubuntu 24.04 default", unit: "ssh.socket",
			tree:  socketTree{files: map[string]string{"usr/lib/systemd/system/ssh.socket": "ubuntu2404-ssh.socket"}, enabled: true},
			state: "enabled", addrs: "0.0.0.0:22 [::]:22", active: true, files: 1},
		{name: "a drop-in in /etc hides the one of the same name in /usr/lib", unit: "ssh.socket",
			tree: socketTree{files: map[string]string{
				"usr/lib/systemd/system/ssh.socket":             "debian13-ssh.socket",
				"usr/lib/systemd/system/ssh.socket.d/port.conf": "=[Socket]\nListenStream=\nListenStream=3333\n",
				"etc/systemd/system/ssh.socket.d/port.conf":     "port-2222.conf",
				"etc/systemd/system/ssh.socket.d/README":        "=[Socket]\nListenStream=4444\n",
			}, enabled: true},
			state: "enabled", addrs: ":2222", active: true, files: 2},
		{name: "per-connection sshd.socket with a unix socket", unit: "sshd.socket",
			tree:  socketTree{files: map[string]string{"usr/lib/systemd/system/sshd.socket": "=[Socket]\nListenStream=/run/sshd.sock\nListenStream=22\nAccept=yes\n"}},
			state: "disabled", addrs: ":22", accept: true, files: 1},
		{name: "masked", unit: "ssh.socket",
			tree:  socketTree{files: map[string]string{"usr/lib/systemd/system/ssh.socket": "debian13-ssh.socket"}, masked: true},
			state: "masked"},
		{name: "not installed", unit: "ssh.socket", tree: socketTree{}, absent: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := &host.Env{Root: tt.tree.build(t, tt.unit)}
			s, ok := SocketFromFiles(context.Background(), env, tt.unit)
			if ok == tt.absent {
				t.Fatalf("installed %v, want %v", ok, !tt.absent)
			}
			if tt.absent {
				return
			}
			var addrs []string
			for _, a := range s.Addrs() {
				addrs = append(addrs, a.String())
			}
			if s.FileState != tt.state || strings.Join(addrs, " ") != tt.addrs || s.Accept != tt.accept || s.Active() != tt.active || len(s.Files) != tt.files || s.Via != ViaFiles {
				t.Errorf("got state %q addrs %q accept %v active %v files %v via %s, want %q %q %v %v %d files",
					s.FileState, addrs, s.Accept, s.Active(), s.Files, s.Via, tt.state, tt.addrs, tt.accept, tt.active, tt.files)
			}
			if s.Err != "" {
				t.Errorf("error %q", s.Err)
			}
			// Sockets takes the same files where systemd is not asked.
			if got := Sockets(context.Background(), env, []string{tt.unit}); len(got) != 1 || got[0].FileState != s.FileState {
				t.Errorf("Sockets: %+v", got)
			}
		})
	}
}

func TestSSHSocket(t *testing.T) {
	root := socketTree{files: map[string]string{
		"usr/lib/systemd/system/ssh.socket":         "debian13-ssh.socket",
		"etc/systemd/system/ssh.socket.d/port.conf": "port-2222.conf",
	}, enabled: true}.build(t, "ssh.socket")
	s := SSHSocket(context.Background(), &host.Env{Root: root})
	if s == nil || s.Unit != "ssh.socket" || !slices.Equal(s.Ports(), []int{2222}) {
		t.Fatalf("got %+v", s)
	}
	disabled := socketTree{files: map[string]string{"usr/lib/systemd/system/ssh.socket": "debian13-ssh.socket"}}.build(t, "ssh.socket")
	if s := SSHSocket(context.Background(), &host.Env{Root: disabled}); s != nil {
		t.Errorf("a disabled socket counts: %+v", s)
	}
}

// TestDecodeListen decodes the Listen property in every shape godbus can
// hand it over, starting with what it really decodes from the wire.
func TestDecodeListen(t *testing.T) {
	want := []Listen{{"Stream", "[::]:2222"}, {"Stream", "/run/sshd.sock"}}
	type pair struct{ Type, Address string }
	wire := func(v any) any {
		t.Helper()
		variant := dbus.MakeVariant(v)
		m := &dbus.Message{Type: dbus.TypeMethodReply, Headers: map[dbus.HeaderField]dbus.Variant{
			dbus.FieldReplySerial: dbus.MakeVariant(uint32(1)),
			dbus.FieldSignature:   dbus.MakeVariant(dbus.SignatureOf(variant)),
		}, Body: []any{variant}}
		var b bytes.Buffer
		if err := m.EncodeTo(&b, binary.LittleEndian); err != nil {
			t.Fatal(err)
		}
		d, err := dbus.DecodeMessage(&b)
		if err != nil {
			t.Fatal(err)
		}
		return d.Body[0].(dbus.Variant).Value()
	}
	for name, v := range map[string]any{
		"from the wire":              wire([]pair{{"Stream", "[::]:2222"}, {"Stream", "/run/sshd.sock"}}),
		"variant of the wire value":  dbus.MakeVariant(wire([]pair{{"Stream", "[::]:2222"}, {"Stream", "/run/sshd.sock"}})),
		"[]interface{} of []string":  []any{[]string{"Stream", "[::]:2222"}, []any{"Stream", "/run/sshd.sock"}},
		"structs":                    []pair{{"Stream", "[::]:2222"}, {"Stream", "/run/sshd.sock"}},
		"pointers to structs":        []*pair{{"Stream", "[::]:2222"}, {"Stream", "/run/sshd.sock"}},
		"variants inside the array":  []any{dbus.MakeVariant([]any{"Stream", "[::]:2222"}), dbus.MakeVariant(pair{"Stream", "/run/sshd.sock"})},
		"array of two-string arrays": [][2]string{{"Stream", "[::]:2222"}, {"Stream", "/run/sshd.sock"}},
	} {
		got, err := DecodeListen(v)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: %v %v, want %v", name, got, err, want)
		}
	}
	for name, v := range map[string]any{
		"nil":          nil,
		"a string":     "[::]:22",
		"three fields": []any{[]any{"Stream", "[::]:22", "x"}},
		"not strings":  []any{[]any{"Stream", 22}},
		"nil entry":    []*pair{nil},
	} {
		if got, err := DecodeListen(v); err == nil {
			t.Errorf("%s: accepted as %v", name, got)
		}
	}
	if got, err := DecodeListen(wire([]pair{})); err != nil || len(got) != 0 {
		t.Errorf("no address: %v %v", got, err)
	}
}
