package patches

import (
	"context"
	"fmt"
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
	readRebootFlags(ctx, env, &f.Reboot)
	checkKernel(ctx, env, &f.Reboot)
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
	if opt.Refresh {
		if _, err := env.Cmd.Run(ctx, "apt-get", "-q", "update"); err != nil {
			f.IndexErr = "apt-get update: " + err.Error()
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		var out []byte
		var err error
		if opt.AptMethod == "simulate" {
			f.Source = "apt-get -s dist-upgrade"
			out, err = env.Cmd.Run(ctx, "apt-get", "-s", "-o", "Debug::NoLocking=1", "dist-upgrade")
			if err == nil {
				f.Updates, err = ParseSimulate(out)
			}
		} else {
			f.Source = "apt list --upgradable"
			out, err = env.Cmd.Run(ctx, "apt", "list", "--upgradable")
			if err == nil {
				f.Updates, err = ParseListUpgradable(out)
			}
		}
		if err != nil {
			f.UpdatesErr = err.Error()
		}
	})
	wg.Go(func() {
		out, err := env.Cmd.Run(ctx, "apt-config", "dump")
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
