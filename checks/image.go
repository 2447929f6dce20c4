package checks

import (
	"fmt"
)

// Image is how a check answers on an image tree: an image pipeline checks
// a mounted image or a build chroot (--path.root), where nothing of the
// image runs. Some checks are decided by the image's files alone (sshd's
// configuration, the accounts, the ruleset file loaded at boot); others
// only by a running system (the live SSH probe, the kernel's ruleset, the
// sockets that listen), and asking the machine vigie runs on instead would
// judge the build host, not the image: those are skipped, by name and with
// a reason.
type Image struct {
	// Live says only a running system can answer: in image mode the check
	// is skipped with How as the reason.
	Live bool
	// How says, for a live-only check, what only a running system knows
	// and which checks judge the image's files instead; for the others,
	// what of the image's files the verdict rests on.
	How string
}

// LiveOnly declares a check only a running system can answer.
func LiveOnly(how string) Image { return Image{Live: true, How: how} }

// FromFiles declares a check the image's files answer, saying which.
func FromFiles(how string) Image { return Image{How: how} }

// Declared reports whether the check says how it answers on an image.
func (i Image) Declared() bool { return i.How != "" }

// ImageSkip is the finding of a live-only check in image mode, root being
// the image's tree.
func ImageSkip(m Meta, root string) Finding {
	return NewFinding(m, Skipf("%s: %s", ImageMode(root), m.Image.How))
}

// ImageMode names image mode in reasons: "image mode (--path.root ROOT)".
func ImageMode(root string) string {
	return fmt.Sprintf("image mode (--path.root %s)", root)
}

// SkipLive replaces the findings of live-only checks by their image-mode
// skip: whatever an area gathered, a live-only check never reports on the
// machine vigie runs on in place of the image.
func SkipLive(findings []Finding, root string) []Finding {
	for i, f := range findings {
		if f.Image.Live {
			findings[i] = ImageSkip(f.Meta, root)
		}
	}
	return findings
}
