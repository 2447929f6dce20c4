package patches

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"
)

// IndexSource is one repository's metadata as the package manager last
// fetched it.
type IndexSource struct {
	File string // the Release/InRelease or repomd.xml file, on the inspected system
	// Name is the archive's origin and suite from its Release file (apt),
	// or the repository id (dnf, zypper).
	Name string
	// Security says the source carries security updates: on apt the
	// security archive (Release.Security), on dnf and zypper every
	// enabled repository, since advisories come with each.
	Security bool
	Fetched  time.Time // the file's mtime: when the manager last wrote it
}

// aptIndexes lists the repositories apt last fetched, one per
// Release/InRelease file under /var/lib/apt/lists (apt-get update rewrites
// them even when nothing changed), and the newest of them.
func aptIndexes(ctx context.Context, env *host.Env) ([]IndexSource, time.Time, string) {
	bySource := map[string]IndexSource{}
	for _, pat := range []string{"*_InRelease", "*_Release"} {
		files, _ := filepath.Glob(env.Path("/var/lib/apt/lists/" + pat))
		for _, f := range files {
			st, err := os.Stat(f)
			if err != nil {
				continue
			}
			name := "/var/lib/apt/lists/" + filepath.Base(f)
			// One source may have left both an InRelease and a Release: the
			// newer is what apt reads.
			key := strings.TrimSuffix(strings.TrimSuffix(name, "_InRelease"), "_Release")
			if old, ok := bySource[key]; ok && !st.ModTime().After(old.Fetched) {
				continue
			}
			rel := ParseRelease(readHead(ctx, env, name))
			src := IndexSource{File: name, Name: rel.Name(), Security: rel.Security(), Fetched: st.ModTime()}
			if src.Name == "" {
				src.Name = filepath.Base(name)
			}
			bySource[key] = src
		}
	}
	if len(bySource) == 0 && env.Image {
		return nil, time.Time{}, "the image holds no package index (no Release file under /var/lib/apt/lists: its build removed the lists, or never ran apt-get update)"
	}
	if len(bySource) == 0 {
		return nil, time.Time{}, "no Release file under /var/lib/apt/lists: apt-get update has never succeeded"
	}
	return sortedSources(bySource)
}

// readHead reads the start of a file, where a Release file's fields are;
// an unreadable file gives nothing, and its source no name.
func readHead(ctx context.Context, env *host.Env, p string) []byte {
	f, err := env.FS().Open(ctx, p, hostfs.Spec{})
	if err != nil {
		return nil
	}
	defer f.Close()
	buf := make([]byte, maxReleaseHead)
	n, _ := f.ReadAt(buf, 0)
	return buf[:n]
}

// cacheSuffix is the hash dnf appends to a repository id in its cache
// directory name (baseos-8d3d3a7fbfd8d1f4).
var cacheSuffix = regexp.MustCompile(`-[0-9a-f]{6,}$`)

// rpmIndexes lists the repository metadata in dnf's (or yum's, or
// zypper's) cache, one per repository, leaving out the repositories the
// .repo files disable: a cache a disabled repository left behind is never
// refreshed again, and says nothing about the index dnf uses.
func rpmIndexes(ctx context.Context, env *host.Env) ([]IndexSource, time.Time, string) {
	enabled := map[string]bool{}
	for _, dir := range []string{"/etc/yum.repos.d", "/etc/zypp/repos.d"} {
		files, _ := filepath.Glob(env.Path(dir + "/*.repo"))
		for _, f := range files {
			data, err := env.ReadFile(ctx, dir+"/"+filepath.Base(f), hostfs.Config)
			if err != nil {
				continue
			}
			for id, on := range ParseRepoFile(data) {
				enabled[id] = on
			}
		}
	}
	bySource := map[string]IndexSource{}
	for _, pat := range []string{"/var/cache/dnf/*/repodata/repomd.xml", "/var/cache/yum/*/*/*/repomd.xml", "/var/cache/zypp/raw/*/repodata/repomd.xml"} {
		files, _ := filepath.Glob(env.Path(pat))
		for _, f := range files {
			st, err := os.Stat(f)
			if err != nil {
				continue
			}
			rel, err := filepath.Rel(env.Path("/"), f)
			if err != nil {
				continue
			}
			name := "/" + rel
			id := repoID(name)
			if on, known := enabled[id]; known && !on {
				continue
			}
			if old, ok := bySource[id]; ok && !st.ModTime().After(old.Fetched) {
				continue
			}
			bySource[id] = IndexSource{File: name, Name: id, Security: true, Fetched: st.ModTime()}
		}
	}
	if len(bySource) == 0 {
		if env.Image {
			return nil, time.Time{}, "the image holds no repository metadata in the package manager's cache: its build cleaned it, or never refreshed it"
		}
		return nil, time.Time{}, "no repository metadata in the package manager's cache: it has never refreshed"
	}
	return sortedSources(bySource)
}

// repoID is the repository a cached repomd.xml belongs to.
func repoID(p string) string {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	switch {
	case strings.HasPrefix(p, "/var/cache/dnf/") && len(parts) > 3:
		return cacheSuffix.ReplaceAllString(parts[3], "")
	case strings.HasPrefix(p, "/var/cache/yum/") && len(parts) > 5:
		return parts[5] // /var/cache/yum/ARCH/RELEASEVER/ID/repomd.xml
	case strings.HasPrefix(p, "/var/cache/zypp/raw/") && len(parts) > 4:
		return parts[4]
	}
	return p
}

func sortedSources(m map[string]IndexSource) ([]IndexSource, time.Time, string) {
	out := make([]IndexSource, 0, len(m))
	var newest time.Time
	for _, s := range m {
		out = append(out, s)
		if s.Fetched.After(newest) {
			newest = s.Fetched
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, newest, ""
}
