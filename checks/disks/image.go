package disks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"
)

// The tables an image's boot reads to set up its storage.
const (
	FstabFile    = "/etc/fstab"
	CrypttabFile = "/etc/crypttab"
)

// ImageSwap is what an image's files say of the swap its boot enables:
// every swap entry of fstab, and the crypttab mapping it sits on, if any.
type ImageSwap struct {
	Entries []SwapEntry
	Err     string // fstab or crypttab could not be read
}

// SwapEntry is one swap line of fstab.
type SwapEntry struct {
	Source string // the device, "/dev/mapper/NAME", "UUID=..." or a file
	Line   int
	// Mapping is the crypttab line that opens Source, when Source is a
	// /dev/mapper name crypttab defines.
	Mapping     string
	MappingLine int
	Mapper      bool // Source is under /dev/mapper (a crypttab mapping or another)
}

// Encrypted reports whether the entry sits on a crypttab mapping, which
// is dm-crypt.
func (e SwapEntry) Encrypted() bool { return e.Mapping != "" }

// readImageSwap reads an image's fstab and crypttab. A missing fstab
// enables no swap; a missing crypttab opens no mapping.
func readImageSwap(ctx context.Context, env *host.Env) *ImageSwap {
	s := &ImageSwap{}
	fstab, err := env.ReadFile(ctx, FstabFile, hostfs.Config)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.Err = fmt.Sprintf("read %v", err)
		return s
	}
	crypttab, err := env.ReadFile(ctx, CrypttabFile, hostfs.Config)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.Err = fmt.Sprintf("read %v", err)
		return s
	}
	maps := map[string]tabLine{}
	for _, l := range tabLines(crypttab) {
		if len(l.fields) >= 2 {
			maps[l.fields[0]] = l
		}
	}
	for _, l := range tabLines(fstab) {
		if len(l.fields) < 3 || l.fields[2] != "swap" {
			continue
		}
		if len(l.fields) >= 4 && slices.Contains(strings.Split(l.fields[3], ","), "noauto") {
			continue // not enabled at boot
		}
		e := SwapEntry{Source: l.fields[0], Line: l.n}
		if name, ok := strings.CutPrefix(e.Source, "/dev/mapper/"); ok {
			e.Mapper = true
			if m, ok := maps[name]; ok {
				e.Mapping, e.MappingLine = strings.Join(m.fields, " "), m.n
			}
		}
		s.Entries = append(s.Entries, e)
	}
	return s
}

// tabLine is one entry of fstab(5) or crypttab(5), fields unescaped.
type tabLine struct {
	n      int
	fields []string
}

func tabLines(b []byte) []tabLine {
	var out []tabLine
	for i, raw := range strings.Split(string(b), "\n") {
		t := strings.TrimSpace(raw)
		if t == "" || t[0] == '#' {
			continue
		}
		l := tabLine{n: i + 1}
		for _, f := range strings.Fields(t) {
			l.fields = append(l.fields, Unescape(f))
		}
		out = append(out, l)
	}
	return out
}

// imageSwapRule judges the swap an image enables at boot from its fstab
// and crypttab.
func imageSwapRule(s *ImageSwap) checks.Result {
	if s.Err != "" {
		return checks.Errorf("%s", s.Err)
	}
	var ev []checks.Evidence
	var bad []string
	for _, e := range s.Entries {
		ev = append(ev, checks.Evidence{Subject: e.Source, Key: "swap", Value: e.describe(), Want: "a /dev/mapper device crypttab opens (swap with a random key)",
			Source: "fstab and crypttab", File: FstabFile, Line: e.Line, OK: e.Encrypted()})
		if !e.Encrypted() {
			bad = append(bad, fmt.Sprintf("%s (%s:%d): %s", e.Source, FstabFile, e.Line, e.describe()))
		}
	}
	switch {
	case len(bad) > 0:
		return checks.Failf("the image enables swap that holds memory pages in clear on disk: %s", strings.Join(bad, "; ")).With(ev...)
	case len(s.Entries) == 0:
		return checks.Passf("the image enables no swap at boot (no swap entry in %s)", FstabFile).With(ev...)
	}
	return checks.Passf("all %d swap area(s) the image enables sit on dm-crypt mappings of %s", len(s.Entries), CrypttabFile).With(ev...)
}

func (e SwapEntry) describe() string {
	switch {
	case e.Encrypted():
		return fmt.Sprintf("opened by %s:%d (%s)", CrypttabFile, e.MappingLine, e.Mapping)
	case e.Mapper:
		return "a device-mapper device no " + CrypttabFile + " line opens (LVM, or a mapping the image's files do not show as dm-crypt)"
	}
	return "no dm-crypt layer: not a /dev/mapper device " + CrypttabFile + " opens"
}
