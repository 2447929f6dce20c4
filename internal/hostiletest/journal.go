package hostiletest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// Journal stands in for journald's native socket
// (/run/systemd/journal/socket): it keeps every datagram a client sends,
// and the content of a file descriptor sent instead when an entry is too
// large for a datagram, as sd_journal_send and go-systemd do.
type Journal struct {
	Socket string
	conn   *net.UnixConn
	done   chan struct{}

	mu      sync.Mutex
	entries [][]byte
	errs    []string
}

// maxEntry bounds what is kept of one entry passed as a file.
const maxEntry = 64 << 20

// ListenJournal listens on dir/socket.
func ListenJournal(dir string) (*Journal, error) {
	j := &Journal{Socket: filepath.Join(dir, "socket"), done: make(chan struct{})}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: j.Socket, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("journal stand-in: %w", err)
	}
	_ = conn.SetReadBuffer(8 << 20)
	j.conn = conn
	go j.serve()
	return j, nil
}

func (j *Journal) serve() {
	defer close(j.done)
	buf := make([]byte, 16<<20)
	oob := make([]byte, syscall.CmsgSpace(4*16))
	for {
		n, oobn, _, _, err := j.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				j.fail("read: %v", err)
			}
			return
		}
		entry := bytes.Clone(buf[:n])
		if oobn > 0 {
			data, err := readPassedFiles(oob[:oobn])
			if err != nil {
				j.fail("%v", err)
			}
			entry = append(entry, data...)
		}
		j.mu.Lock()
		j.entries = append(j.entries, entry)
		j.mu.Unlock()
	}
}

func (j *Journal) fail(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.errs = append(j.errs, fmt.Sprintf(format, args...))
}

// readPassedFiles reads the files passed as SCM_RIGHTS, from their start.
func readPassedFiles(oob []byte) ([]byte, error) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("control message: %w", err)
	}
	var out []byte
	for _, m := range msgs {
		fds, err := syscall.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			f := os.NewFile(uintptr(fd), "journal-entry")
			b, err := io.ReadAll(io.NewSectionReader(f, 0, maxEntry))
			f.Close()
			if err != nil {
				return out, fmt.Errorf("read a passed entry: %w", err)
			}
			out = append(out, b...)
		}
	}
	return out, nil
}

// Close stops listening; the entries stay readable.
func (j *Journal) Close() {
	j.conn.Close()
	<-j.done
	os.Remove(j.Socket)
}

// Entries returns the raw entries received so far, and any error reading them.
func (j *Journal) Entries() ([][]byte, []string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([][]byte(nil), j.entries...), append([]string(nil), j.errs...)
}

// ParseEntry decodes one entry of journald's native protocol: KEY=value
// lines, or KEY, a newline, a 64-bit little-endian length, the value and a
// newline when the value holds a newline. A field given twice keeps its
// last value.
func ParseEntry(b []byte) (map[string]string, error) {
	fields := map[string]string{}
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			return fields, fmt.Errorf("field %q without a newline", CatV(b[:min(len(b), 40)]))
		}
		line := b[:nl]
		b = b[nl+1:]
		if k, v, ok := bytes.Cut(line, []byte{'='}); ok {
			if len(k) == 0 {
				return fields, errors.New("a field with no name")
			}
			fields[string(k)] = string(v)
			continue
		}
		if len(line) == 0 {
			return fields, errors.New("an empty field name")
		}
		if len(b) < 8 {
			return fields, fmt.Errorf("field %s: no length", CatV(line))
		}
		n := binary.LittleEndian.Uint64(b)
		b = b[8:]
		if n >= uint64(len(b)) || b[n] != '\n' {
			return fields, fmt.Errorf("field %s: length %d does not fit the %d bytes left", CatV(line), n, len(b))
		}
		fields[string(line)] = string(b[:n])
		b = b[n+1:]
	}
	return fields, nil
}
