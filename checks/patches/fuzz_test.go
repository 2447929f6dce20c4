package patches

import (
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/internal/fuzzseed"
)

func FuzzParseSimulate(f *testing.F) {
	fuzzseed.Files(f, "testdata/apt/dist-upgrade-debian12.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		ups, err := ParseSimulate(b)
		for _, u := range ups {
			if err == nil && (u.Name == "" || u.To == "") {
				t.Fatalf("update without name or version: %+v", u)
			}
		}
	})
}

func FuzzParseListUpgradable(f *testing.F) {
	fuzzseed.Files(f, "testdata/apt/list-upgradable-debian12.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		ups, err := ParseListUpgradable(b)
		for _, u := range ups {
			if err == nil && (u.Name == "" || u.To == "" || u.From == "") {
				t.Fatalf("incomplete update: %+v", u)
			}
		}
	})
}

func FuzzParseAptConfig(f *testing.F) {
	fuzzseed.Files(f, "testdata/apt/apt-config-dump-debian12-unattended.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseAptConfig(b)
		if err != nil {
			return
		}
		for k := range c.Values {
			if k == "" {
				t.Fatal("empty key")
			}
		}
	})
}

func FuzzParseUpdateinfo(f *testing.F) {
	fuzzseed.Files(f, "testdata/dnf/pending/updateinfo-list.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		ups, _ := ParseUpdateinfo(b)
		for _, u := range ups {
			if u.Name == "" || u.Arch == "" || len(u.Advisories) == 0 {
				t.Fatalf("incomplete advisory update: %+v", u)
			}
		}
	})
}

func FuzzParseCheckUpdate(f *testing.F) {
	fuzzseed.Files(f, "testdata/dnf/pending/check-update.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		ups, _ := ParseCheckUpdate(b)
		for _, u := range ups {
			if u.Name == "" || !archs[u.Arch] {
				t.Fatalf("bad update: %+v", u)
			}
		}
	})
}

func FuzzParseZypperXML(f *testing.F) {
	fuzzseed.Files(f, "testdata/zypper/pending/list-patches.xml", "testdata/zypper/pending/list-updates.xml")
	f.Fuzz(func(t *testing.T, b []byte) {
		ups, err := ParseZypperXML(b)
		if err != nil && len(ups) > 0 {
			t.Fatal("updates returned with an error")
		}
	})
}

func FuzzParseRelease(f *testing.F) {
	fuzzseed.Files(f, "testdata/apt/lists/*Release")
	f.Fuzz(func(t *testing.T, b []byte) {
		r := ParseRelease(b)
		for _, v := range []string{r.Origin, r.Label, r.Suite, r.Codename} {
			if strings.ContainsAny(v, "\n\r") || v != strings.TrimSpace(v) {
				t.Fatalf("field %q not one trimmed line", v)
			}
		}
		if r.Name() == "" && (r.Origin != "" || r.Suite != "") {
			t.Fatalf("no name for %+v", r)
		}
	})
}

func FuzzParseRepoFile(f *testing.F) {
	f.Add([]byte(rockyRepo))
	f.Add([]byte("[main]\nenabled=0\n[a]\nenabled = no\n[b]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for id := range ParseRepoFile(b) {
			if id == "" || id == "main" || strings.Contains(id, "\n") {
				t.Fatalf("bad repository id %q", id)
			}
		}
	})
}
