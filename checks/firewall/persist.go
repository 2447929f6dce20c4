package firewall

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"

	"golang.org/x/sys/unix"

	"github.com/vigie-agent/vigie/host/units"
)

// Persistence is what brings a ruleset back after a reboot.
type Persistence struct {
	Units   map[string]string // unit -> UnitFileState (enabled, disabled, masked, static, "")
	Via     string            // "systemd D-Bus" or "unit symlinks"
	File    string            // the file nftables.service loads
	FileErr string
	Loaded  *Ruleset // that file, loaded into a scratch network namespace
	LoadErr string
	UFW     bool // /etc/ufw/ufw.conf says ENABLED=yes
}

// persistUnits are the services that restore a ruleset at boot.
var persistUnits = []string{"nftables.service", "firewalld.service", "ufw.service", "netfilter-persistent.service"}

// readPersistence learns which units are enabled and what the persisted
// nftables file would load.
func readPersistence(ctx context.Context, env *host.Env, opt Options) Persistence {
	p := Persistence{}
	p.Units, p.Via = units.States(ctx, env, persistUnits)
	if b, err := env.ReadFile(ctx, "/etc/ufw/ufw.conf", hostfs.Config); err == nil {
		p.UFW = ufwEnabled(b)
	}
	for _, f := range opt.PersistFiles {
		if env.FS().Exists(ctx, f) {
			p.File = f
			break
		}
	}
	if p.File == "" {
		p.FileErr = "none of " + strings.Join(opt.PersistFiles, ", ") + " exists"
		return p
	}
	if !env.Live() {
		p.LoadErr = "not loaded: the inspected root is not the running system"
		return p
	}
	p.Loaded, p.LoadErr = loadScratch(ctx, opt.NftPath, p.File)
	return p
}

func ufwEnabled(conf []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(conf))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if ok && k == "ENABLED" && strings.EqualFold(strings.Trim(v, `"' `), "yes") {
			return true
		}
	}
	return false
}

// loadScratch loads a ruleset file the way nftables.service does at boot,
// but into a network namespace of its own that disappears afterwards, and
// reads back what it created. Nothing on the host changes: the namespace
// lives on one locked OS thread, and nft, started from that thread,
// inherits it.
func loadScratch(ctx context.Context, nftPath, file string) (*Ruleset, string) {
	type result struct {
		rs  *Ruleset
		err error
	}
	done := make(chan result, 1)
	go func() {
		// The thread is never unlocked: when this goroutine ends the runtime
		// discards the thread, and with it the namespace.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("create a scratch network namespace: %w", err)}
			return
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, nftPath, "-f", file)
		cmd.Stderr = &stderr
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(stderr.String())
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, exec.ErrNotFound) {
				msg = "nft is not installed"
			}
			done <- result{err: fmt.Errorf("%s -f %s: %v: %s", nftPath, file, err, firstLine(msg))}
			return
		}
		rs, err := readLive("")
		done <- result{rs: rs, err: err}
	}()
	r := <-done
	if r.err != nil {
		return nil, r.err.Error()
	}
	return r.rs, ""
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
