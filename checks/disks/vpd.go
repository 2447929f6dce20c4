package disks

import (
	"strings"
	"unicode"
)

// SCSI device identification (VPD page 0x83, SPC-4 7.8.6): a 4-byte header
// (peripheral, page code 0x83, page length) and designation descriptors of
// 4 header bytes (protocol and code set, PIV, association and designator
// type, reserved, length) followed by the designator.
const (
	vpdHeader       = 4
	vpdDescHeader   = 4
	codeSetASCII    = 2
	codeSetUTF8     = 3
	designatorT10   = 1 // T10 vendor id: 8 bytes of vendor, then a vendor-specific id
	designatorVSpec = 0 // vendor specific
	designatorName  = 8 // SCSI name string
)

// Designator is one designation descriptor of VPD page 0x83.
type Designator struct {
	Type        int // designator type: 0 vendor specific, 1 T10, 2 EUI-64, 3 NAA, 8 SCSI name...
	CodeSet     int // 1 binary, 2 ASCII, 3 UTF-8
	Association int // 0 the logical unit, 1 the target port, 2 the target device
	Value       []byte
}

// Text returns a text designator (ASCII or UTF-8 code set) with its NUL
// padding and spaces trimmed, or "" for a binary one or one holding
// control characters.
func (d Designator) Text() string {
	if d.CodeSet != codeSetASCII && d.CodeSet != codeSetUTF8 {
		return ""
	}
	s := strings.TrimRight(string(d.Value), "\x00")
	s = strings.TrimSpace(s)
	for _, r := range s {
		if !unicode.IsPrint(r) || r == unicode.ReplacementChar {
			return ""
		}
	}
	return s
}

// ParseVPD83 reads the designation descriptors of a VPD page 0x83 as
// sysfs gives it (vpd_pg83). It trusts no length: a descriptor running
// past the page or the buffer ends the list, and what came before is kept.
func ParseVPD83(b []byte) []Designator {
	if len(b) < vpdHeader || b[1] != 0x83 {
		return nil
	}
	end := vpdHeader + (int(b[2])<<8 | int(b[3]))
	end = min(end, len(b))
	var out []Designator
	for off := vpdHeader; off+vpdDescHeader <= end; {
		n := int(b[off+3])
		start := off + vpdDescHeader
		if start+n > end {
			break
		}
		out = append(out, Designator{
			Type:        int(b[off+1] & 0x0f),
			CodeSet:     int(b[off] & 0x0f),
			Association: int(b[off+1]>>4) & 0x03,
			Value:       append([]byte(nil), b[start:start+n]...),
		})
		off = start + n
	}
	return out
}

// vpdIDs returns the text identifiers of the logical unit in a VPD page
// 0x83: vendor-specific and SCSI name designators whole, T10 vendor ids
// without their 8-byte vendor field.
func vpdIDs(b []byte) []string {
	var out []string
	for _, d := range ParseVPD83(b) {
		if d.Association != 0 {
			continue
		}
		switch d.Type {
		case designatorVSpec, designatorName:
			if s := d.Text(); s != "" {
				out = append(out, s)
			}
		case designatorT10:
			if len(d.Value) > 8 {
				d.Value = d.Value[8:]
				out = append(out, strings.Fields(d.Text())...)
			}
		}
	}
	return out
}
