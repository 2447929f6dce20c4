package units

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"reflect"
	"sort"
	"strings"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"
)

// SSHSocketUnits are the socket units that start sshd: ssh.socket on
// Debian and Ubuntu, sshd.socket on the RHEL family and Arch. While one of
// them listens, PID 1 holds sshd's ports, not an sshd process, and sshd's
// own ListenAddress does not apply.
var SSHSocketUnits = []string{"ssh.socket", "sshd.socket"}

// Socket is a socket unit: whether systemd listens on it now and at boot,
// and on which addresses.
type Socket struct {
	Unit        string
	ActiveState string // "active" while systemd listens; "" when read from an image's files
	FileState   string // UnitFileState: "enabled", "disabled", "masked"...
	Accept      bool   // one service instance per connection (sshd@.service)
	Listen      []Listen
	Via         string   // ViaDBus or ViaFiles
	Files       []string // the unit file and its drop-ins, in the order read
	Err         string   // why the addresses are unknown or incomplete
}

// Active reports whether systemd listens on the socket now. Read from an
// image's files (no ActiveState), an enabled socket is taken to be active:
// that is what its boot does, and nothing else can say.
func (s *Socket) Active() bool {
	if s.ActiveState == "" {
		return s.Enabled()
	}
	return s.ActiveState == "active"
}

// Enabled reports whether the socket is started at boot.
func (s *Socket) Enabled() bool {
	return s.FileState == "enabled" || s.FileState == "enabled-runtime"
}

// Addrs are the socket's TCP addresses.
func (s *Socket) Addrs() []StreamAddr {
	a, _ := TCP(s.Listen)
	return a
}

// Ports are the socket's TCP ports, each once.
func (s *Socket) Ports() []int {
	var out []int
	for _, a := range s.Addrs() {
		if !containsInt(out, a.Port) {
			out = append(out, a.Port)
		}
	}
	return out
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// SSHSocket returns the first of SSHSocketUnits that is active or enabled,
// or nil when sshd is not socket-activated.
func SSHSocket(ctx context.Context, env *host.Env) *Socket {
	for _, s := range Sockets(ctx, env, SSHSocketUnits) {
		if s.Active() || s.Enabled() {
			return &s
		}
	}
	return nil
}

// Sockets describes the installed socket units among names: from systemd's
// D-Bus API on a running system, else from the unit files and drop-ins
// under env's root (an image, a host where systemd does not run).
func Sockets(ctx context.Context, env *host.Env, names []string) []Socket {
	if Live(env) {
		if out, err := socketsDBus(ctx, names); err == nil {
			return out
		}
	}
	var out []Socket
	for _, n := range names {
		if s, ok := SocketFromFiles(ctx, env, n); ok {
			if env.Live() && !Live(env) {
				// The running system, without systemd (a container): no
				// socket unit listens, enabled or not.
				s.ActiveState = "inactive"
			}
			out = append(out, s)
		}
	}
	return out
}

func socketsDBus(ctx context.Context, names []string) ([]Socket, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var out []Socket
	for _, n := range names {
		s, ok, err := socketDBus(ctx, conn, n)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, s)
		}
	}
	return out, nil
}

func socketDBus(ctx context.Context, conn *sddbus.Conn, name string) (Socket, bool, error) {
	props, err := conn.GetUnitPropertiesContext(ctx, name)
	if err != nil {
		return Socket{}, false, fmt.Errorf("properties of %s: %w", name, err)
	}
	load, _ := props["LoadState"].(string)
	if load == "" || load == "not-found" {
		return Socket{}, false, nil
	}
	s := Socket{Unit: name, Via: ViaDBus}
	s.ActiveState, _ = props["ActiveState"].(string)
	s.FileState, _ = props["UnitFileState"].(string)
	if load == "masked" {
		s.FileState = "masked"
		return s, true, nil
	}
	sp, err := conn.GetUnitTypePropertiesContext(ctx, name, "Socket")
	if err != nil {
		s.Err = fmt.Sprintf("socket properties of %s: %v", name, err)
		return s, true, nil
	}
	if s.Listen, err = DecodeListen(sp["Listen"]); err != nil {
		s.Err = fmt.Sprintf("Listen of %s: %v", name, err)
	}
	s.Accept, _ = sp["Accept"].(bool)
	return s, true, nil
}

// DecodeListen reads the Listen property of org.freedesktop.systemd1.Socket,
// D-Bus type a(ss): godbus gives an array of structs as [][]interface{},
// and this accepts any slice of two-string sequences or of structs of two
// strings, inside variants or not, so a change of decoding does not lose
// sshd's ports.
func DecodeListen(v any) ([]Listen, error) {
	rv := reflect.ValueOf(unvariant(v))
	if !rv.IsValid() {
		return nil, errors.New("no value")
	}
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, fmt.Errorf("a %s, not an array", rv.Type())
	}
	out := make([]Listen, 0, rv.Len())
	for i := 0; i < rv.Len(); i++ {
		pair, err := stringPair(rv.Index(i))
		if err != nil {
			return out, fmt.Errorf("entry %d: %w", i, err)
		}
		out = append(out, Listen{Type: pair[0], Address: pair[1]})
	}
	return out, nil
}

func unvariant(v any) any {
	for {
		switch x := v.(type) {
		case dbus.Variant:
			v = x.Value()
		case *dbus.Variant:
			if x == nil {
				return nil
			}
			v = x.Value()
		default:
			return v
		}
	}
}

// stringPair reads a (ss) struct as godbus may hand it over.
func stringPair(e reflect.Value) ([2]string, error) {
	var out [2]string
	for e.Kind() == reflect.Interface || e.Kind() == reflect.Pointer {
		if e.IsNil() {
			return out, errors.New("nil")
		}
		e = e.Elem()
	}
	if e.CanInterface() {
		if v, ok := e.Interface().(dbus.Variant); ok {
			return stringPair(reflect.ValueOf(v.Value()))
		}
	}
	var fields []reflect.Value
	switch e.Kind() {
	case reflect.Slice, reflect.Array:
		for i := 0; i < e.Len(); i++ {
			fields = append(fields, e.Index(i))
		}
	case reflect.Struct:
		for i := 0; i < e.NumField(); i++ {
			if e.Type().Field(i).IsExported() {
				fields = append(fields, e.Field(i))
			}
		}
	default:
		return out, fmt.Errorf("a %s, not a (ss) struct", e.Type())
	}
	if len(fields) != 2 {
		return out, fmt.Errorf("%d fields, not 2", len(fields))
	}
	for i, f := range fields {
		for f.Kind() == reflect.Interface && !f.IsNil() {
			f = f.Elem()
		}
		if f.Kind() != reflect.String {
			return out, fmt.Errorf("field %d is not a string", i)
		}
		out[i] = f.String()
	}
	return out, nil
}

// unitDirs are systemd's unit search path for the system manager, highest
// priority first (systemd.unit(5)), with /lib/systemd/system for hosts
// whose /usr is not merged (Debian 12 installs units there).
var unitDirs = []string{
	"/etc/systemd/system.control", "/run/systemd/system.control", "/run/systemd/transient",
	"/run/systemd/generator.early", "/etc/systemd/system", "/etc/systemd/system.attached",
	"/run/systemd/system", "/run/systemd/system.attached", "/run/systemd/generator",
	"/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system",
	"/run/systemd/generator.late",
}

// maxDropIns bounds the drop-ins read for one unit.
const maxDropIns = 64

// SocketFromFiles reads a socket unit the way systemd would load it: the
// first unit file on the search path, then every NAME.d/*.conf drop-in in
// the order of its file name, a drop-in in a higher directory hiding one
// of the same name below. ok is false when the unit is not installed.
func SocketFromFiles(ctx context.Context, env *host.Env, name string) (Socket, bool) {
	s := Socket{Unit: name, Via: ViaFiles}
	states := map[string]string{}
	statesFiles(env, []string{name}, states)
	s.FileState = states[name]
	if s.FileState == "masked" {
		return s, true
	}
	var set SocketSettings
	found := false
	var errs []string
	for _, dir := range unitDirs {
		p := path.Join(dir, name)
		data, err := env.ReadFile(ctx, p, hostfs.Config)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		found = true
		if err != nil {
			errs = append(errs, hostfs.Why(err))
			break
		}
		set.ApplyUnitFile(data)
		s.Files = append(s.Files, p)
		break
	}
	dropIns := map[string]string{}
	for _, dir := range unitDirs {
		d := path.Join(dir, name+".d")
		entries, err := env.FS().ReadDir(ctx, d, hostfs.Spec{})
		if err != nil {
			continue
		}
		for _, e := range entries {
			if _, seen := dropIns[e.Name()]; !seen && strings.HasSuffix(e.Name(), ".conf") && len(dropIns) < maxDropIns {
				dropIns[e.Name()] = path.Join(d, e.Name())
			}
		}
	}
	base := make([]string, 0, len(dropIns))
	for b := range dropIns {
		base = append(base, b)
	}
	sort.Strings(base)
	for _, b := range base {
		p := dropIns[b]
		data, err := env.ReadFile(ctx, p, hostfs.Config)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, hostfs.Why(err))
			}
			continue
		}
		found = true
		set.ApplyUnitFile(data)
		s.Files = append(s.Files, p)
	}
	if !found {
		return s, false
	}
	s.Listen, s.Accept = set.Listen, set.Accept
	if _, err := TCP(s.Listen); err != nil {
		errs = append(errs, err.Error())
	}
	s.Err = strings.Join(errs, "; ")
	return s, true
}

// GeneratorPaths are where Ubuntu's sshd-socket-generator is installed: it
// writes ssh.socket's ListenStream= lines from sshd_config's Port and
// ListenAddress at each daemon-reload.
var GeneratorPaths = []string{
	"/usr/lib/systemd/system-generators/sshd-socket-generator",
	"/lib/systemd/system-generators/sshd-socket-generator",
}

// SSHSocketGenerated reports whether the running system derives
// ssh.socket's addresses from sshd_config.
func SSHSocketGenerated() bool {
	for _, p := range GeneratorPaths {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}
