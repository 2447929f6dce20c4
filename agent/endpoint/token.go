package endpoint

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// maxTokenFile bounds what is read of the token file: a token is short, and
// a path pointing at something huge must not be loaded whole.
const maxTokenFile = 64 << 10

// readToken returns the bearer token, or "" when no token file is set. The
// errors name the file and never quote its content. A file that group or
// others may read is used, and warned about once per mode seen.
func (c *Client) readToken() (string, error) {
	path := c.cfg.TokenFile
	if path == "" {
		return "", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open token file: %w", err) // *PathError names the file
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("stat token file %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("token file %s is not a regular file", path)
	}
	c.checkTokenMode(st.Mode().Perm())
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("read token file %s: %w", path, err)
	}
	if len(b) > maxTokenFile {
		return "", fmt.Errorf("token file %s: larger than %d bytes", path, maxTokenFile)
	}
	tok := bytes.TrimSpace(b)
	if len(tok) == 0 {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	for _, ch := range tok {
		// Visible ASCII only: anything else would be refused as a header
		// value, or split the header.
		if ch < 0x21 || ch > 0x7e {
			return "", fmt.Errorf("token file %s: the token holds a space, control or non-ASCII character", path)
		}
	}
	return string(tok), nil
}

// checkTokenMode warns when others than the owner may read the token.
func (c *Client) checkTokenMode(mode os.FileMode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if mode&0o077 == 0 {
		c.warnedMode = 0
		return
	}
	if mode == c.warnedMode {
		return
	}
	c.warnedMode = mode
	c.warn(fmt.Sprintf("token file %s has mode %04o: group or others may read the token; chmod 0600 it", c.cfg.TokenFile, mode))
}
