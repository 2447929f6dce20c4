package disks

import (
	"context"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
)

var encryptionDuty = checks.Seed("Protection des données / Chiffrement des données",
	"Vous êtes responsable du chiffrement des volumes sur votre instance.")

var hdsEncryption = checks.Seed("Offres d'instances HDS",
	"Local storage (responsabilité du Client de chiffrer)")

var rules = []checks.Rule[*Facts]{
	{Meta: checks.Meta{
		ID: IDLocal, Title: "Local storage in use is encrypted", Severity: checks.High,
		Rationale:  "Local volumes live on the hypervisor's own disks. The seed says the customer is responsible for encrypting the volumes of the instance, and the HDS offer table makes encrypting local storage the customer's duty. vigie follows every mounted filesystem and active swap down its block device stack (partitions, LVM, md RAID, device-mapper) and passes only if some layer is dm-crypt (LUKS1, LUKS2, plain, BitLocker, TrueCrypt); integrity-only layers do not count.",
		ManualFix:  "Encrypting a filesystem in place destroys nothing only with LUKS2 online re-encryption: back up first, then `cryptsetup reencrypt --encrypt --reduce-device-size 32M /dev/DEVICE` (unmounted), add it to /etc/crypttab, point /etc/fstab at /dev/mapper/NAME, and `update-initramfs -u` for the root filesystem. The safer path is a new LUKS2 volume (`cryptsetup luksFormat`), restore the data onto it, then switch the mount.",
		References: []checks.Reference{encryptionDuty, hdsEncryption},
		Image:      disksLive,
	}, Eval: classRule(Local, checks.Pass)},
	{Meta: checks.Meta{
		ID: IDScratch, Title: "Scratch storage in use is encrypted", Severity: checks.High, Remediation: &checks.Remediation{ID: "disks", Destructive: true},
		Rationale:  "Scratch storage (the local NVMe of GPU instances) is wiped by key destruction when the instance goes, but while it runs the data sits in clear on the hypervisor's disks. The HDS offer table allows scratch storage on GPU instances only if the customer encrypts it. Its data does not survive a stop anyway, so encrypting it with a fresh random key at every boot costs nothing.",
		ManualFix:  "`vigie fix --allow-destructive --only disks` does it for an empty scratch filesystem. By hand: unmount it, add `scratch /dev/disk/by-id/DISK-ID /dev/urandom plain,cipher=aes-xts-plain64,size=512,tmp=ext4,nofail` to /etc/crypttab (a stable by-id name: /dev/nvme1n1 may name another disk after a reboot), mount /dev/mapper/scratch where the data went (/etc/fstab, with nofail), then `systemctl daemon-reload` and `systemctl start systemd-cryptsetup@scratch`.",
		References: []checks.Reference{encryptionDuty, hdsEncryption},
		Image:      disksLive,
	}, Eval: classRule(Scratch, checks.Skip)},
	{Meta: checks.Meta{
		ID: IDSwap, Title: "Swap is encrypted", Severity: checks.Medium, Remediation: &checks.Remediation{ID: "disks", Destructive: true},
		Rationale:  "Swap receives whatever memory the kernel pages out: keys, passwords, records being processed. An encrypted swap with a random key per boot keeps it unreadable once the instance stops.",
		ManualFix:  "`vigie fix --allow-destructive --only disks` does it for a swap partition or disk. By hand: `swapoff -a`, then in /etc/crypttab `cryptswap /dev/disk/by-partuuid/PARTUUID /dev/urandom swap,plain,cipher=aes-xts-plain64,size=512` and in /etc/fstab `/dev/mapper/cryptswap none swap sw 0 0` instead of the old line, then `systemctl daemon-reload && swapon -a`. A swap file is better replaced by a swap partition or zram.",
		References: []checks.Reference{encryptionDuty},
		Image:      checks.FromFiles("the swap entries of the image's /etc/fstab (those without noauto), each of which must be a /dev/mapper device a line of its /etc/crypttab opens; swap set up otherwise (zram, a systemd swap unit, a partition found by systemd-gpt-auto-generator) is not seen"),
	}, Eval: swapRule},
	{Meta: checks.Meta{
		ID: IDBlock, Title: "Block volumes in use are encrypted", Severity: checks.Medium,
		Rationale:  "Block volumes are replicated network storage that outlives the instance and stays in the account after it is deleted unless deletion is asked for. The provider does not encrypt them for you. Under the hds profile this weighs as much as local storage.",
		ManualFix:  "Create a LUKS2 container on a new volume (`cryptsetup luksFormat /dev/disk/by-id/scsi-0SCW_b_ssd_volume-...`), copy the data over, and open it at boot with /etc/crypttab (a key file on the root volume, or a network-bound key such as clevis/tang).",
		References: []checks.Reference{encryptionDuty},
		Image:      disksLive,
	}, Eval: classRule(Block, checks.Skip)},
}

// disksLive is why the storage checks are live-only: which disks an
// instance has, what it mounts from them and what kind of volume each is
// show only on the instance.
var disksLive = checks.LiveOnly("the disks in use, their device stacks and whether each is local, scratch or block storage are known only on a running instance (its sysfs, its mounts, its metadata), and this machine's are its own; the swap the image enables at boot is judged from its fstab and crypttab by disks.swap-encrypted")

// New returns the disks area with its options.
func New(opt Options) checks.Area {
	return &checks.RuleArea[*Facts]{
		AreaName: "disks",
		Rules:    rules,
		Gather:   func(ctx context.Context, env *host.Env) *Facts { return Gather(ctx, env, opt) },
	}
}

// Evaluate applies the rules to facts gathered elsewhere.
func Evaluate(f *Facts) []checks.Finding { return checks.Evaluate(rules, f) }
