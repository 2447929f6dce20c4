package patches

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"
)

// onImage says, in a source, that this machine's package manager read an
// image's files.
const onImage = " (this machine's package manager, on the image's files)"

// aptImage points this machine's apt at an image: an APT_CONFIG file, which
// apt reads before its configuration parts (an -o option would come too
// late), whose directories make every file apt reads (its configuration
// parts, sources, lists, preferences and dpkg's status) the image's and
// none of this machine's. No cache file is written into the image, no lock
// taken, and the architectures are the image's, so apt asks no dpkg of
// this machine. It returns the command prefix ("env APT_CONFIG=FILE") and
// what removes the file.
func aptImage(ctx context.Context, env *host.Env) ([]string, func(), error) {
	if strings.ContainsAny(env.Root, "\"\n\\") {
		return nil, nil, fmt.Errorf("the image root %q cannot be named in apt's configuration", env.Root)
	}
	archs, err := imageArchitectures(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	var conf strings.Builder
	root := strings.TrimSuffix(env.Root, "/")
	// The image's directories, each named: RootDir would also move the
	// empty cache names into the image, where apt would then write.
	fmt.Fprintf(&conf, "Dir \"/\";\nDir::Etc \"%[1]s/etc/apt\";\nDir::State \"%[1]s/var/lib/apt\";\nDir::State::status \"%[1]s/var/lib/dpkg/status\";\n", root)
	fmt.Fprintf(&conf, "Dir::Cache \"%[1]s/var/cache/apt\";\nDir::Log \"%[1]s/var/log/apt\";\n", root)
	conf.WriteString("Dir::Cache::pkgcache \"\";\nDir::Cache::srcpkgcache \"\";\nDebug::NoLocking \"true\";\n")
	fmt.Fprintf(&conf, "APT::Architecture \"%s\";\nAPT::Architectures { ", archs[0])
	for _, a := range archs {
		fmt.Fprintf(&conf, "\"%s\"; ", a)
	}
	conf.WriteString("};\n")
	f, err := os.CreateTemp("", "vigie-apt-image-*.conf")
	if err != nil {
		return nil, nil, fmt.Errorf("write apt's configuration for the image: %w", err)
	}
	name := f.Name()
	cleanup := func() { os.Remove(name) }
	if _, err := f.WriteString(conf.String()); err != nil {
		f.Close()
		cleanup()
		return nil, nil, fmt.Errorf("write apt's configuration for the image: %w", err)
	}
	if err := f.Close(); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("write apt's configuration for the image: %w", err)
	}
	return []string{"env", "APT_CONFIG=" + name}, cleanup, nil
}

// imageArchitectures are the image's dpkg architectures, native first: the
// one its dpkg package is built for, then the foreign ones of
// /var/lib/dpkg/arch.
func imageArchitectures(ctx context.Context, env *host.Env) ([]string, error) {
	status, err := env.ReadFile(ctx, "/var/lib/dpkg/status", hostfs.Table)
	if err != nil {
		return nil, fmt.Errorf("the image's dpkg database: %w", err)
	}
	native := dpkgArch(status)
	if !archName(native) {
		return nil, fmt.Errorf("the image's dpkg database names no architecture for dpkg itself")
	}
	archs := []string{native}
	if b, err := env.ReadFile(ctx, "/var/lib/dpkg/arch", hostfs.Small); err == nil {
		for _, a := range strings.Fields(string(b)) {
			if archName(a) && !slices.Contains(archs, a) {
				archs = append(archs, a)
			}
		}
	}
	return archs, nil
}

// dpkgArch is the Architecture of the dpkg package in a status file.
func dpkgArch(status []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(status))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	inDpkg := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			inDpkg = false
		case strings.HasPrefix(line, "Package: "):
			inDpkg = strings.TrimSpace(strings.TrimPrefix(line, "Package: ")) == "dpkg"
		case inDpkg && strings.HasPrefix(line, "Architecture: "):
			return strings.TrimSpace(strings.TrimPrefix(line, "Architecture: "))
		}
	}
	return ""
}

// archName accepts what dpkg calls an architecture ("amd64", "arm64",
// "x32"), which apt's configuration can quote as it is.
func archName(a string) bool {
	if a == "" || a == "all" || len(a) > 32 {
		return false
	}
	for _, r := range a {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// dnfImage are the options that point this machine's dnf at an image: its
// install root, its repositories and, when it has one, its dnf.conf, so
// nothing of this machine's configuration or cache is read.
func dnfImage(env *host.Env) []string {
	args := []string{"--installroot=" + env.Root, "--setopt=reposdir=" + filepath.Join(env.Root, "etc/yum.repos.d")}
	if conf := env.Path("/etc/dnf/dnf.conf"); fileExists(conf) {
		args = append(args, "--config="+conf)
	}
	return args
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
