package patches

import (
	"os"
	"os/exec"
	"testing"
)

// Cases from dpkg's own test suite (lib/dpkg/t/t-version.c) and kernel
// release strings.
var versionCases = []struct {
	a, b string
	want int
}{
	{"1.0", "1.0", 0},
	{"1.0", "1.1", -1},
	{"1:0.1", "2.0", 1},
	{"0:1.0", "1.0", 0},
	{"1.0~rc1", "1.0", -1},
	{"1.0~rc1", "1.0~rc2", -1},
	{"1.0~~", "1.0~", -1},
	{"1.0a", "1.0", 1},
	{"1.0+b1", "1.0", 1},
	{"1.0-1", "1.0-2", -1},
	{"2.30-10", "2.30-9", 1},
	{"3.0.11-1~deb12u2", "3.0.13-1~deb12u1", -1},
	{"12.4+deb12u11", "12.4+deb12u15", -1},
	{"6.1.0-18-amd64", "6.1.0-21-amd64", -1},
	{"6.1.0-9-amd64", "6.1.0-10-amd64", -1},
	{"5.14.0-427.13.1.el9_4.x86_64", "5.14.0-362.24.1.el9_3.x86_64", 1},
	{"1.2.3", "1.2.3a", -1},
	{"a", "b", -1},
	{"1.0.", "1.0", 1},
	{"1.0-", "1.0", 0},
	{"00001.0", "1.0", 0},
}

func TestCompareVersions(t *testing.T) {
	for _, c := range versionCases {
		if got := CompareVersions(c.a, c.b); got != c.want {
			t.Errorf("%s vs %s: %d, want %d", c.a, c.b, got, c.want)
		}
		if got := CompareVersions(c.b, c.a); got != -c.want {
			t.Errorf("%s vs %s: %d, want %d", c.b, c.a, got, -c.want)
		}
	}
}

// FuzzCompareVersions holds the comparison to dpkg itself where dpkg
// accepts both versions, and to antisymmetry everywhere.
func FuzzCompareVersions(f *testing.F) {
	for _, c := range versionCases {
		f.Add(c.a, c.b)
	}
	dpkg, _ := exec.LookPath("dpkg")
	f.Fuzz(func(t *testing.T, a, b string) {
		got := CompareVersions(a, b)
		if back := CompareVersions(b, a); back != -got {
			t.Fatalf("%q %q: %d but reversed %d", a, b, got, back)
		}
		if dpkg == "" || !validDebVersion(a) || !validDebVersion(b) {
			return
		}
		lt := exec.Command(dpkg, "--compare-versions", a, "lt", b).Run() == nil
		gt := exec.Command(dpkg, "--compare-versions", a, "gt", b).Run() == nil
		eq := exec.Command(dpkg, "--compare-versions", a, "eq", b).Run() == nil
		want := 0
		switch {
		case lt:
			want = -1
		case gt:
			want = 1
		case !eq:
			return // dpkg rejected one of them
		}
		if got != want {
			t.Fatalf("%q vs %q: %d, dpkg says %d", a, b, got, want)
		}
	})
}

// validDebVersion keeps the fuzzer to versions dpkg accepts without a
// warning: a digit first, the allowed characters only, one epoch at most.
func validDebVersion(v string) bool {
	if v == "" || v[0] < '0' || v[0] > '9' {
		return false
	}
	colons := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case isDigit(c), c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '.', c == '+', c == '~', c == '-':
		case c == ':':
			colons++
		default:
			return false
		}
	}
	if colons > 1 {
		return false
	}
	e, u, _ := splitVersion(v)
	if colons == 1 && (e == "" || len(e) > 9) {
		return false
	}
	for i := 0; i < len(e); i++ {
		if !isDigit(e[i]) {
			return false
		}
	}
	return u != "" && isDigit(u[0])
}

func BenchmarkParseListUpgradable(b *testing.B) {
	data, err := os.ReadFile("testdata/apt/list-upgradable-debian12.txt")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ParseListUpgradable(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseSimulate(b *testing.B) {
	data, err := os.ReadFile("testdata/apt/dist-upgrade-debian12.txt")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ParseSimulate(data); err != nil {
			b.Fatal(err)
		}
	}
}
