package patches

import (
	"os"
	"path/filepath"
	"time"

	"github.com/vigie-agent/vigie/host"
)

// aptIndexTime is when apt last fetched a repository's metadata: the
// newest Release/InRelease file under /var/lib/apt/lists. apt-get update
// rewrites them even when nothing changed.
func aptIndexTime(env *host.Env) (time.Time, string) {
	var newest time.Time
	for _, pat := range []string{"*InRelease", "*_Release"} {
		files, _ := filepath.Glob(env.Path("/var/lib/apt/lists/" + pat))
		for _, f := range files {
			if st, err := os.Stat(f); err == nil && st.ModTime().After(newest) {
				newest = st.ModTime()
			}
		}
	}
	if newest.IsZero() {
		return newest, "no Release file under /var/lib/apt/lists: apt-get update has never succeeded"
	}
	return newest, ""
}

// dnfIndexTime is the newest repository metadata in dnf's cache.
func dnfIndexTime(env *host.Env) (time.Time, string) {
	var newest time.Time
	for _, pat := range []string{"/var/cache/dnf/*/repodata/repomd.xml", "/var/cache/yum/*/*/*/repomd.xml", "/var/cache/zypp/raw/*/repodata/repomd.xml"} {
		files, _ := filepath.Glob(env.Path(pat))
		for _, f := range files {
			if st, err := os.Stat(f); err == nil && st.ModTime().After(newest) {
				newest = st.ModTime()
			}
		}
	}
	if newest.IsZero() {
		return newest, "no repository metadata in the package manager's cache: it has never refreshed"
	}
	return newest, ""
}
