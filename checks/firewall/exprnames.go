package firewall

import (
	"encoding/binary"
	"fmt"

	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// ruleKey identifies a rule across the two dumps.
type ruleKey struct {
	family, table, chain string
	handle               uint64
}

// decodable lists the expression names github.com/google/nftables turns
// into values. It skips the others silently, so a rule such as
// "socket transparent 1 accept" would read as a bare "accept": the names
// dumped here let the decoder mark such rules unknown instead.
var decodable = map[string]bool{
	"ct": true, "range": true, "meta": true, "cmp": true, "counter": true, "objref": true,
	"payload": true, "lookup": true, "immediate": true, "bitwise": true, "redir": true,
	"nat": true, "limit": true, "quota": true, "dynset": true, "log": true, "exthdr": true,
	"match": true, "target": true, "connlimit": true, "queue": true, "flow_offload": true,
	"reject": true, "masq": true, "hash": true, "cthelper": true, "synproxy": true,
	"ctexpect": true, "secmark": true, "cttimeout": true, "fib": true, "numgen": true, "notrack": true,
}

func undecoded(names []string, _ []expr.Any) []string {
	var out []string
	for _, n := range names {
		if !decodable[n] {
			out = append(out, n)
		}
	}
	return out
}

const (
	nfnlSubsysNFTables = 10
	nftMsgGetRule      = 7
	nftaRuleTable      = 1
	nftaRuleChain      = 2
	nftaRuleHandle     = 3
	nftaRuleExprs      = 4
	nftaListElem       = 1
	nftaExprName       = 1
)

// DumpExprNames lists, per rule, the names of the expressions the kernel
// holds. netns is a network namespace file descriptor, 0 for the current.
func DumpExprNames(netns int) (map[ruleKey][]string, error) {
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: netns})
	if err != nil {
		return nil, fmt.Errorf("netlink dial: %w", err)
	}
	defer conn.Close()
	req := netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(nfnlSubsysNFTables<<8 | nftMsgGetRule),
			Flags: netlink.Request | netlink.Dump,
		},
		Data: []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0},
	}
	msgs, err := conn.Execute(req)
	if err != nil {
		return nil, fmt.Errorf("dump nftables rules: %w", err)
	}
	out := map[ruleKey][]string{}
	for _, m := range msgs {
		k, names, err := parseRuleMsg(m.Data)
		if err != nil {
			return nil, err
		}
		out[k] = names
	}
	return out, nil
}

// parseRuleMsg reads one NFT_MSG_NEWRULE message: an nfgenmsg header, then
// attributes.
func parseRuleMsg(b []byte) (ruleKey, []string, error) {
	var k ruleKey
	if len(b) < 4 {
		return k, nil, fmt.Errorf("short nftables rule message (%d bytes)", len(b))
	}
	k.family = familyName(nftablesFamily(b[0]))
	ad, err := netlink.NewAttributeDecoder(b[4:])
	if err != nil {
		return k, nil, fmt.Errorf("decode rule attributes: %w", err)
	}
	ad.ByteOrder = binary.BigEndian
	var names []string
	for ad.Next() {
		switch ad.Type() {
		case nftaRuleTable:
			k.table = ad.String()
		case nftaRuleChain:
			k.chain = ad.String()
		case nftaRuleHandle:
			k.handle = ad.Uint64()
		case nftaRuleExprs:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					if nad.Type() != nftaListElem {
						continue
					}
					nad.Nested(func(ead *netlink.AttributeDecoder) error {
						for ead.Next() {
							if ead.Type() == nftaExprName {
								names = append(names, ead.String())
							}
						}
						return nil
					})
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return k, nil, fmt.Errorf("decode rule attributes: %w", err)
	}
	return k, names, nil
}
