package hostiletest

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// encodeEntry writes fields the way sd_journal_send and go-systemd do.
func encodeEntry(fields map[string]string) []byte {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		v := fields[k]
		if !strings.Contains(v, "\n") {
			b.WriteString(k + "=" + v + "\n")
			continue
		}
		b.WriteString(k + "\n")
		_ = binary.Write(&b, binary.LittleEndian, uint64(len(v)))
		b.WriteString(v + "\n")
	}
	return b.Bytes()
}

func TestParseEntry(t *testing.T) {
	in := map[string]string{"MESSAGE": "ssh.authorized-keys fail: two\nlines", "PRIORITY": "3", "VIGIE_CHECK_ID": "ssh.authorized-keys", "EMPTY": ""}
	got, err := ParseEntry(encodeEntry(in))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range in {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, bad := range []string{"MESSAGE", "=x\n", "MESSAGE\n\x05\x00\x00\x00\x00\x00\x00\x00ab\n", "\n"} {
		if _, err := ParseEntry([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseEntry(f *testing.F) {
	f.Add(encodeEntry(map[string]string{"MESSAGE": "a\nb", "VIGIE_SUMMARY": "1"}))
	f.Add([]byte("MESSAGE=x\nPRIORITY=6\n"))
	f.Add([]byte("MESSAGE\n\xff\xff\xff\xff\xff\xff\xff\xff\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fields, err := ParseEntry(data)
		if err != nil {
			return
		}
		// What parses encodes back to the same fields (names with "=" or
		// a newline cannot come from a valid entry).
		again, err := ParseEntry(encodeEntry(fields))
		if err != nil {
			t.Fatalf("re-encoded %q: %v", fields, err)
		}
		for k, v := range fields {
			if again[k] != v {
				t.Fatalf("%q: %q, then %q", k, v, again[k])
			}
		}
	})
}

// TestJournalStandIn sends one entry as a datagram and one as a passed
// file descriptor, as go-systemd does for an entry too large for the
// socket.
func TestJournalStandIn(t *testing.T) {
	j, err := ListenJournal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Unconnected, as go-systemd's socket is.
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	to := &net.UnixAddr{Name: j.Socket, Net: "unixgram"}
	small := encodeEntry(map[string]string{"MESSAGE": "small", "VIGIE_SUMMARY": "1"})
	if _, err := conn.WriteToUnix(small, to); err != nil {
		t.Fatal(err)
	}
	big := encodeEntry(map[string]string{"MESSAGE": strings.Repeat("x", 1<<20) + "\nend"})
	f, err := os.CreateTemp(t.TempDir(), "entry")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(big); err != nil {
		t.Fatal(err)
	}
	if _, _, err := conn.WriteMsgUnix(nil, syscall.UnixRights(int(f.Fd())), to); err != nil {
		t.Fatal(err)
	}
	f.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if entries, _ := j.Entries(); len(entries) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	j.Close()
	entries, errs := j.Entries()
	if len(errs) > 0 || len(entries) != 2 {
		t.Fatalf("%d entries, errors %v", len(entries), errs)
	}
	if !bytes.Equal(entries[0], small) || !bytes.Equal(entries[1], big) {
		t.Errorf("entries differ from what was sent (%d and %d bytes)", len(entries[0]), len(entries[1]))
	}
}
