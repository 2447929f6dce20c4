package patches

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigie-agent/vigie/host"
)

// Options are the patches area's settings.
type Options struct {
	// Refresh runs the package manager's index refresh first (apt-get
	// update, dnf makecache). Off by default: a check must not touch the
	// network unless told to.
	Refresh bool
	// MaxIndexAge is how old the package index may be before its answer
	// is not trusted.
	MaxIndexAge time.Duration
	// AptMethod chooses apt's source of truth: "list" (apt list
	// --upgradable) or "simulate" (apt-get -s dist-upgrade).
	AptMethod string
	// Now is the clock, for tests.
	Now func() time.Time
}

// DefaultOptions suit a host where apt-daily or dnf-makecache refresh the
// index at least daily.
func DefaultOptions() Options {
	return Options{MaxIndexAge: 48 * time.Hour, AptMethod: "list", Now: time.Now}
}

// Gather reads the patches facts of the system env describes.
func Gather(ctx context.Context, env *host.Env, opt Options) *Facts {
	f := &Facts{Now: opt.Now(), MaxIndexAge: opt.MaxIndexAge}
	f.OS = osRelease(host.ReadOSRelease(ctx, env))
	f.Support = supportOf(f.OS)
	f.Manager = managerFor(f.OS)
	if env.Image {
		// No kernel of the image runs, and the reboot flags live in /run.
		f.Reboot.Err = "not read on an image: no kernel of the image runs"
		// Refreshing the index would touch the network and the image.
		opt.Refresh = false
	} else {
		readRebootFlags(ctx, env, &f.Reboot)
		checkKernel(ctx, env, &f.Reboot)
	}
	switch f.Manager {
	case "apt":
		gatherApt(ctx, env, opt, f)
	case "dnf":
		gatherDnf(ctx, env, opt, f)
	case "zypper":
		gatherZypper(ctx, env, opt, f)
	default:
		f.UpdatesErr = fmt.Sprintf("no supported package manager for %q (ID_LIKE %v)", f.OS.ID, f.OS.Like)
	}
	return f
}

func osRelease(m map[string]string) OSRelease {
	codename := m["VERSION_CODENAME"]
	if codename == "" {
		codename = m["UBUNTU_CODENAME"]
	}
	return OSRelease{ID: m["ID"], VersionID: m["VERSION_ID"], Codename: codename, PrettyName: m["PRETTY_NAME"], Like: strings.Fields(m["ID_LIKE"])}
}

// managerFor picks the package manager from os-release: ID first, then
// ID_LIKE, so derivatives follow their parent.
func managerFor(os OSRelease) string {
	for _, id := range append([]string{os.ID}, os.Like...) {
		switch id {
		case "debian", "ubuntu":
			return "apt"
		case "rhel", "fedora", "centos", "rocky", "almalinux", "ol", "amzn":
			return "dnf"
		case "suse", "opensuse", "sles", "opensuse-leap", "opensuse-tumbleweed":
			return "zypper"
		}
	}
	return ""
}

func gatherApt(ctx context.Context, env *host.Env, opt Options, f *Facts) {
	run, via := env.Cmd.Run, ""
	if env.Image {
		prefix, cleanup, err := aptImage(ctx, env)
		if err != nil {
			f.UpdatesErr = err.Error()
			f.Auto = AutoUpdates{Tool: "unattended-upgrades", Err: err.Error()}
			f.Indexes, f.IndexNewest, f.IndexErr = aptIndexes(ctx, env)
			return
		}
		defer cleanup()
		run = func(ctx context.Context, name string, args ...string) ([]byte, error) {
			argv := append(append(slices.Clone(prefix[1:]), name), args...)
			return env.Cmd.Run(ctx, prefix[0], argv...)
		}
		via = onImage
	}
	if opt.Refresh {
		if _, err := run(ctx, "apt-get", "-q", "update"); err != nil {
			f.IndexErr = "apt-get update: " + err.Error()
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		var out []byte
		var err error
		if opt.AptMethod == "simulate" {
			f.Source = "apt-get -s dist-upgrade" + via
			out, err = run(ctx, "apt-get", "-s", "-o", "Debug::NoLocking=1", "dist-upgrade")
			if err == nil {
				f.Updates, err = ParseSimulate(out)
			}
		} else {
			f.Source = "apt list --upgradable" + via
			out, err = run(ctx, "apt", "list", "--upgradable")
			if err == nil {
				f.Updates, err = ParseListUpgradable(out)
			}
		}
		if err != nil {
			f.UpdatesErr = err.Error()
		}
	})
	wg.Go(func() {
		out, err := run(ctx, "apt-config", "dump")
		var cfg AptConfig
		if err == nil {
			cfg, err = ParseAptConfig(out)
		}
		f.Auto = aptAuto(ctx, env, cfg, err)
	})
	var msg string
	f.Indexes, f.IndexNewest, msg = aptIndexes(ctx, env)
	if f.IndexErr == "" {
		f.IndexErr = msg
	}
	wg.Wait()
}
