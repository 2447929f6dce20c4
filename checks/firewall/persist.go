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
	Units map[string]string // unit -> UnitFileState (enabled, disabled, masked, static, "")
	Via   string            // "systemd D-Bus" or "unit symlinks"
	// Boot are the files the enabled units load at boot, in the order
	// they load them.
	Boot []BootLoad
	// Missing says which enabled unit has no file to load.
	Missing []string
	Loaded  *Ruleset // Boot's files, loaded one after the other into a scratch network namespace
	LoadErr string
	UFW     bool // /etc/ufw/ufw.conf says ENABLED=yes
}

// BootLoad is a ruleset file a unit loads at boot.
type BootLoad struct {
	Unit, File string
}

// loader is a unit that loads an nftables file at boot, the first of
// files that exists.
type loader struct {
	unit  string
	files []string
}

// loaders are the units that load nftables files, in boot order:
// vigie-firewall.service runs after nftables.service, whose file may
// begin with "flush ruleset".
func loaders(opt Options) []loader {
	return []loader{{"nftables.service", opt.PersistFiles}, {BootUnit, []string{BootFile}}}
}

// BootUnit and BootFile are vigie's own persistence, written by `vigie
// fix`: a unit that loads only vigie's table from its file.
const (
	BootUnit = "vigie-firewall.service"
	BootFile = "/etc/vigie/vigie.nft"
)

// persistUnits are the services that restore a ruleset at boot.
var persistUnits = []string{BootUnit, "nftables.service", "firewalld.service", "ufw.service", "netfilter-persistent.service"}

// readPersistence learns which units are enabled and what the files they
// load at boot would load, together and in order.
func readPersistence(ctx context.Context, env *host.Env, opt Options) Persistence {
	p := Persistence{}
	p.Units, p.Via = units.States(ctx, env, persistUnits)
	if b, err := env.ReadFile(ctx, "/etc/ufw/ufw.conf", hostfs.Config); err == nil {
		p.UFW = ufwEnabled(b)
	}
	var files []string
	for _, l := range loaders(opt) {
		if p.Units[l.unit] != "enabled" {
			continue
		}
		found := ""
		for _, f := range l.files {
			if env.FS().Exists(ctx, f) {
				found = f
				break
			}
		}
		if found == "" {
			p.Missing = append(p.Missing, l.unit+" is enabled, but none of "+strings.Join(l.files, ", ")+" exists")
			continue
		}
		p.Boot = append(p.Boot, BootLoad{Unit: l.unit, File: found})
		files = append(files, found)
	}
	switch {
	case len(files) == 0:
	case env.Image:
		p.Loaded, p.LoadErr = loadImage(ctx, opt.NftPath, env.Root, files...)
	case !env.Live():
		p.LoadErr = "not loaded: the inspected root is not the running system"
	default:
		p.Loaded, p.LoadErr = loadScratch(ctx, opt.NftPath, files...)
	}
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

// loadScratch loads ruleset files one after the other, the way the units
// do at boot, but into a network namespace of its own that disappears
// afterwards, and reads back what they created. Nothing on the host
// changes: the namespace lives on one locked OS thread, and nft, started
// from that thread, inherits it.
func loadScratch(ctx context.Context, nftPath string, files ...string) (*Ruleset, string) {
	return loadIn(ctx, nftPath, 0, nil, files)
}

// loadIn is loadScratch with more namespaces unshared on the thread (flags)
// and setup run there before nft starts.
func loadIn(ctx context.Context, nftPath string, flags int, setup func() error, files []string) (*Ruleset, string) {
	type result struct {
		rs  *Ruleset
		err error
	}
	done := make(chan result, 1)
	onScratchThread(func() {
		if err := unix.Unshare(unix.CLONE_NEWNET | flags); err != nil {
			done <- result{err: fmt.Errorf("create a scratch network namespace: %w", err)}
			return
		}
		if setup != nil {
			if err := setup(); err != nil {
				done <- result{err: err}
				return
			}
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		for _, file := range files {
			var stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, nftPath, "-f", file)
			cmd.Stderr = &stderr
			cmd.Env = append(os.Environ(), "LC_ALL=C")
			if err := cmd.Run(); err != nil {
				msg := strings.TrimSpace(stderr.String())
				if errors.Is(err, fs.ErrNotExist) || errors.Is(err, exec.ErrNotFound) {
					msg = "nft is not installed"
				}
				done <- result{err: fmt.Errorf("%s -f %s: %v: %s", nftPath, file, err, errorLine(msg))}
				return
			}
		}
		rs, err := readLive("")
		done <- result{rs: rs, err: err}
	})
	r := <-done
	if r.err != nil {
		return nil, r.err.Error()
	}
	return r.rs, ""
}

// onScratchThread runs fn on an OS thread of its own, which fn may move
// into namespaces of its own: the thread is never unlocked, so when fn
// returns the runtime discards it, and the namespaces with it. Never the
// main thread: the runtime cannot discard that one and parks it instead,
// namespaces and all, and the process's /proc/self (its mounts, /proc/net
// and the sockets read there) is the main thread's view.
func onScratchThread(fn func()) {
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() != unix.Getpid() {
			defer close(done)
			fn()
			return
		}
		// Locked here, the main thread runs no other goroutine: this one
		// gets another thread, and the main thread is given back as it is.
		inner := make(chan struct{})
		go func() {
			defer close(inner)
			runtime.LockOSThread()
			fn()
		}()
		<-inner
		runtime.UnlockOSThread()
		close(done)
	}()
	<-done
}

// errorLine is the line of nft's message that names the error, "FILE:LINE:
// Error: ...", rather than the "In file included from" lines before it;
// the lines after it quote the file.
func errorLine(msg string) string {
	for _, l := range strings.Split(msg, "\n") {
		if strings.Contains(l, "Error:") {
			return l
		}
	}
	return firstLine(msg)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
