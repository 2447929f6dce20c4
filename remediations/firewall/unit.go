package firewall

import "strings"

// UnitFile is vigie's boot unit. It goes under /etc/systemd/system, written
// by the fix as any other file of the plan (backed up, atomic, removed by
// undo), so a binary dropped by cloud-init gets it as well as the package;
// the packages do not ship it, so no packaged copy competes with it.
const UnitFile = "/etc/systemd/system/" + BootUnit

// unitText is vigie-firewall.service: it loads vigie's table at boot with
// `nft -f` of the persisted file, which names table inet vigie and nothing
// else, so no other table (netfilter-persistent's, Docker's, the
// operator's) is flushed.
//
// It is ordered like Debian's nftables.service: no default dependencies
// and before network-pre.target, so the table is in place before any
// interface comes up. It comes after local-fs.target (where /etc/vigie
// lives, as netfilter-persistent.service does) and after nftables.service
// and netfilter-persistent.service, which may flush the whole ruleset
// ("flush ruleset" heads Debian's nftables.conf): vigie's table loads last
// and stays. For the same reason it is part of nftables.service: when an
// operator restarts or reloads nftables.service, which flushes again,
// systemd loads vigie's table again after it. There is no ExecStop: a stop
// (at shutdown, or from undo) leaves the table to vigie, whose undo
// deletes it in one transaction.
func unitText(nft, file string) []byte {
	load := nft + " -f " + file
	return []byte(strings.Join([]string{
		"# Written by vigie fix: loads vigie's own table (inet vigie) at boot,",
		"# before the network, and touches no other table. `vigie undo` disables",
		"# and removes it.",
		"[Unit]",
		"Description=vigie firewall (table inet vigie)",
		"Documentation=https://github.com/vigie-agent/vigie",
		"DefaultDependencies=no",
		"Wants=network-pre.target",
		"After=local-fs.target nftables.service netfilter-persistent.service",
		"Before=network-pre.target shutdown.target",
		"Conflicts=shutdown.target",
		"PartOf=nftables.service",
		"ReloadPropagatedFrom=nftables.service",
		"",
		"[Service]",
		"Type=oneshot",
		"RemainAfterExit=yes",
		"StandardInput=null",
		"ProtectSystem=full",
		"ProtectHome=true",
		"ExecStart=" + load,
		"ExecReload=" + load,
		"",
		"[Install]",
		"WantedBy=sysinit.target",
		"",
	}, "\n"))
}
