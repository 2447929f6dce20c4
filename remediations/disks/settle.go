package disks

import (
	"github.com/coreos/go-systemd/v22/unit"
)

// The lines below revert a run, or settle a host a run left, without
// knowing how far it went: a reboot between the writes of crypttab and
// fstab and the run's end lets systemd open the clear devices as plain
// dm-crypt mappings, make a new filesystem or swap in them (which
// overwrites the clear one's signature on the raw device) and use them.
// Each line is right whatever it finds, and runs as argv: the device
// names are positional parameters of fixed scripts, never pasted into
// one.

// remakeScript makes the clear filesystem or swap again ("$4"...: the
// mkfs or mkswap command line) only when the raw device "$1" carries no
// signature at all (blkid -p exits 2): one that still holds the expected
// type ("$3") and UUID ("$2") is left alone, and one holding anything
// else is not erased but reported, so the revert stops and keeps the
// run's fstab, whose entries have nofail, rather than restore one that
// names a filesystem that is not there.
const remakeScript = `out=$(blkid -p -o export "$1"); s=$?
if [ "$s" -eq 2 ]; then shift 3; exec "$@"; fi
if [ "$s" -eq 0 ] && printf '%s\n' "$out" | grep -qxF "TYPE=$3" && { [ -z "$2" ] || printf '%s\n' "$out" | grep -qxF "UUID=$2"; }; then exit 0; fi
echo "$1 holds something other than the $3 $2 vigie would make again (blkid -p exit $s: $(printf '%s' "$out" | tr '\n' ' ')): left as it is; make it again by hand" >&2
exit 1`

// remakeLine is the conditional remake of the target's clear filesystem
// or swap, with its UUID and label.
func (t target) remakeLine() []string {
	typ := t.item.FSType
	if t.item.Kind == "swap" {
		typ = "swap"
	}
	return append([]string{"/bin/sh", "-c", remakeScript, "sh", t.dev, t.blk["UUID"], typ}, t.remake()...)
}

// remake makes the clear filesystem or swap with its UUID and label.
func (t target) remake() []string {
	uuid, label := t.blk["UUID"], t.blk["LABEL"]
	if t.item.Kind != "swap" {
		return mkfsUUID[t.item.FSType](t.dev, uuid, label)
	}
	args := []string{"mkswap"}
	if uuid != "" {
		args = append(args, "-U", uuid)
	}
	if label != "" {
		args = append(args, "-L", label)
	}
	return append(args, t.dev)
}

// mountScript mounts the device "$2" (type "$1") on "$3" unless it is
// mounted there already; another source mounted there is an error.
const mountScript = `if src=$(findmnt -n -o SOURCE --mountpoint "$3"); then
[ "$src" = "$2" ] && exit 0
echo "$3: $src is mounted there, not $2" >&2; exit 1
fi
exec mount -t "$1" "$2" "$3"`

// swaponScript turns the swap "$1" on unless it is on already.
const swaponScript = `swapon --show=NAME --noheadings | grep -qxF "$1" || exec swapon "$1"`

// useLines use the clear filesystem or swap again where it is not in use.
func (t target) useLines() [][]string {
	if t.item.Kind == "swap" {
		return [][]string{{"/bin/sh", "-c", swaponScript, "sh", t.dev}}
	}
	var out [][]string
	for _, pt := range t.item.Points {
		out = append(out, []string{"/bin/sh", "-c", mountScript, "sh", t.item.FSType, t.dev, pt})
	}
	return out
}

// settle brings the target back to its clear filesystem or swap, in use,
// whatever the run did, a reboot included: what uses the mapping is
// stopped (the mounts of the mapper itself, never the clear filesystem a
// run stopped early still has mounted; the swap unit of the mapper),
// then the mapping, so the raw device is free; those may fail, as the
// mapping may never have been opened. Then the clear filesystem or swap
// is made again if the raw device carries nothing, and used again.
func (t target) settle(mapper, cryptUnit string) [][]string {
	var out [][]string
	if t.item.Kind == "swap" {
		out = append(out, []string{"-systemctl", "stop", unit.UnitNamePathEscape(mapper) + ".swap"})
	} else {
		out = append(out, []string{"-umount", "--all-targets", mapper})
	}
	out = append(out, []string{"-systemctl", "stop", cryptUnit}, t.remakeLine())
	return append(out, t.useLines()...)
}
