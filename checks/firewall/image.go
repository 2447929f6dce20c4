package firewall

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vigie-agent/vigie/host"
)

// notLive says why a fact of the running system is not read on an image.
const notLive = "not read on an image: no kernel of the image runs"

// gatherImage reads what an image's files say of its firewall: the units
// enabled at boot and the ruleset their files load. The kernel's ruleset,
// its sysctls, the sockets and legacy tables of the machine vigie runs on
// are not the image's and are never read; the image is taken to speak
// IPv4 and IPv6, the stricter judgement.
func gatherImage(ctx context.Context, env *host.Env, opt Options, f *Facts) *Facts {
	f.RulesetErr, f.ListenersErr, f.Legacy.Err = notLive, notLive, notLive
	f.Persist = readPersistence(ctx, env, opt)
	return f
}

// loadImage loads an image's boot files, one after the other as its units
// would, with this machine's nft, into a scratch network namespace, and in
// a mount namespace of its own where the image's /etc is /etc: the files'
// includes, /etc/protocols and /etc/services are then the image's (an image
// without /etc/protocols fails at boot on "meta l4proto ipv6-icmp", and
// fails here too). nft runs this machine's code only: the image's
// ld.so.cache gives way to this machine's and its ld.so.preload to
// nothing, so no library of the image is ever loaded. Nothing changes on
// the image or the host: both namespaces go with the thread.
func loadImage(ctx context.Context, nftPath, root string, files ...string) (*Ruleset, string) {
	etc := filepath.Join(root, "etc")
	for _, f := range files {
		if !strings.HasPrefix(f, "/etc/") {
			return nil, fmt.Sprintf("%s: not loaded from an image: only files under /etc are", f)
		}
		// nft, in the namespace, would follow an absolute link out of the
		// image to this machine's files.
		if st, err := os.Lstat(filepath.Join(root, f)); err == nil && st.Mode()&os.ModeSymlink != 0 {
			return nil, fmt.Sprintf("%s is a symbolic link: not loaded from an image, where it would lead out of the image", f)
		}
	}
	return loadIn(ctx, nftPath, unix.CLONE_NEWNS, func() error { return imageEtc(etc) }, files)
}

// imageEtc makes etc this thread's /etc, in the mount namespace it has just
// unshared.
func imageEtc(etc string) error {
	// First of all: no mount below may reach the host's namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make the scratch mount namespace private: %w", err)
	}
	cache, err := os.Open("/etc/ld.so.cache")
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("open this machine's ld.so.cache: %w", err)
	}
	if cache != nil {
		defer cache.Close()
	}
	if err := unix.Mount(etc, "/etc", "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mount the image's /etc in the scratch namespace: %w", err)
	}
	if err := unix.Mount("", "/etc", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("make the image's /etc read-only in the scratch namespace: %w", err)
	}
	cover := map[string]string{"/etc/ld.so.preload": "/dev/null"}
	if cache != nil {
		cover["/etc/ld.so.cache"] = fmt.Sprintf("/proc/self/fd/%d", cache.Fd())
	}
	for target, src := range cover {
		if _, err := os.Lstat(target); os.IsNotExist(err) {
			continue // the image has none: the loader reads nothing there
		}
		if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("cover the image's %s in the scratch namespace: %w", target, err)
		}
	}
	return nil
}
