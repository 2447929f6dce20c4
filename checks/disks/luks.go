package disks

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/vigie-agent/vigie/host/hostfs"
)

// luksMagic opens every LUKS1 and LUKS2 header (cryptsetup's
// LUKS_MAGIC); the version follows as a big-endian uint16.
var luksMagic = []byte{'L', 'U', 'K', 'S', 0xba, 0xbe}

// LUKSVersion reads the start of a device or image and returns the LUKS
// version its header declares, or 0 when there is no LUKS header. It tells a
// disk prepared for encryption but not opened from a blank one.
func LUKSVersion(r io.ReaderAt) (int, error) {
	buf := make([]byte, 8)
	if _, err := r.ReadAt(buf, 0); err != nil {
		if err == io.EOF {
			return 0, nil
		}
		return 0, err
	}
	if !bytes.Equal(buf[:6], luksMagic) {
		return 0, nil
	}
	v := int(binary.BigEndian.Uint16(buf[6:8]))
	if v != 1 && v != 2 {
		return 0, fmt.Errorf("LUKS header with unknown version %d", v)
	}
	return v, nil
}

// luksOf probes /dev/NAME on the running system.
func luksOf(ctx context.Context, name string) string {
	f, err := hostfs.Host.Open(ctx, "/dev/"+name, hostfs.Spec{Kinds: hostfs.BlockDevice})
	if err != nil {
		return ""
	}
	defer f.Close()
	v, err := LUKSVersion(f)
	if err != nil || v == 0 {
		return ""
	}
	return fmt.Sprintf("LUKS%d header, not opened", v)
}
