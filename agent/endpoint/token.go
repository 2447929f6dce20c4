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
	if c.cfg.TokenFile == "" {
		return "", nil
	}
	return c.readSecret(c.cfg.TokenFile, "token", false)
}

// readSecret reads a token or a header value from its file, with the
// token's rules: a regular file, bounded, trimmed, visible ASCII only, and
// a warning when others may read it. what names it in errors; spaces
// allows single spaces inside, as a header value has ("Bearer x").
func (c *Client) readSecret(path, what string, spaces bool) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open %s file: %w", what, err) // *PathError names the file
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("stat %s file %s: %w", what, path, err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s file %s is not a regular file", what, path)
	}
	c.checkSecretMode(path, what, st.Mode().Perm())
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("read %s file %s: %w", what, path, err)
	}
	if len(b) > maxTokenFile {
		return "", fmt.Errorf("%s file %s: larger than %d bytes", what, path, maxTokenFile)
	}
	tok := bytes.TrimSpace(b)
	if len(tok) == 0 {
		return "", fmt.Errorf("%s file %s is empty", what, path)
	}
	for _, ch := range tok {
		// Visible ASCII only: anything else would be refused as a header
		// value, or split the header.
		if (ch < 0x21 || ch > 0x7e) && !(spaces && ch == ' ') {
			return "", fmt.Errorf("%s file %s: the %s holds a space, control or non-ASCII character", what, path, what)
		}
	}
	return string(tok), nil
}

// checkSecretMode warns, once per file and mode seen, when others than
// the owner may read a secret.
func (c *Client) checkSecretMode(path, what string, mode os.FileMode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.warnedMode == nil {
		c.warnedMode = map[string]os.FileMode{}
	}
	if mode&0o077 == 0 {
		delete(c.warnedMode, path)
		return
	}
	if m, ok := c.warnedMode[path]; ok && m == mode {
		return
	}
	c.warnedMode[path] = mode
	c.warn(fmt.Sprintf("%s file %s has mode %04o: group or others may read the %s; chmod 0600 it", what, path, mode, what))
}
