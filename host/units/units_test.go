package units

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/vigie-agent/vigie/host"
)

func TestUnitStatesFiles(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"etc/systemd/system/sysinit.target.wants", "lib/systemd/system"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"nftables.service", "ufw.service", "firewalld.service"} {
		if err := os.WriteFile(filepath.Join(root, "lib/systemd/system", u), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/lib/systemd/system/nftables.service", filepath.Join(root, "etc/systemd/system/sysinit.target.wants/nftables.service")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/null", filepath.Join(root, "etc/systemd/system/firewalld.service")); err != nil {
		t.Fatal(err)
	}
	got, via := States(context.Background(), &host.Env{Root: root}, []string{"nftables.service", "firewalld.service", "ufw.service", "netfilter-persistent.service"})
	if via != ViaFiles {
		t.Errorf("via %s", via)
	}
	want := map[string]string{"nftables.service": "enabled", "ufw.service": "disabled", "firewalld.service": "masked"}
	for u, w := range want {
		if got[u] != w {
			t.Errorf("%s: %q, want %q", u, got[u], w)
		}
	}
	if got["netfilter-persistent.service"] != "" {
		t.Errorf("absent unit: %q", got["netfilter-persistent.service"])
	}
}

// TestNotLoaded: a transient unit collected once it ran is what systemd
// calls NoSuchUnit; Disarm takes it as already stopped, and nothing else.
func TestNotLoaded(t *testing.T) {
	gone := dbus.Error{Name: "org.freedesktop.systemd1.NoSuchUnit", Body: []any{"Unit vigie-revert-x.service not loaded."}}
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("stop vigie-revert-x.service: %w", gone), true},
		{fmt.Errorf("stop vigie-revert-x.service: %w", &gone), true},
		{fmt.Errorf("stop vigie-revert-x.service: %w", dbus.Error{Name: "org.freedesktop.DBus.Error.AccessDenied"}), false},
		{errors.New("stop vigie-revert-x.service: job failed"), false},
	} {
		if got := notLoaded(tt.err); got != tt.want {
			t.Errorf("notLoaded(%v) = %v", tt.err, got)
		}
	}
}
