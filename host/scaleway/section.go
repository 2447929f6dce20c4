package scaleway

import (
	"fmt"
	"strings"
	"time"
)

// Config is the scaleway: section of vigie.yaml: how vigie reaches the
// instance metadata API.
type Config struct {
	// MetadataURL, when set, is asked even where the local files do not say
	// Scaleway; empty means the standard address, asked only on a detected
	// Scaleway instance.
	MetadataURL string `mapstructure:"metadata_url"`
	// MetadataTimeout bounds the one request per run: the link-local API
	// answers in milliseconds, a relay or proxy in front of it may not.
	MetadataTimeout time.Duration `mapstructure:"metadata_timeout"`
}

// DefaultConfig is the section when nothing is set.
func DefaultConfig() Config { return Config{MetadataTimeout: DefaultTimeout} }

// Validate names the first key whose value this build cannot use.
func (c Config) Validate() error {
	if c.MetadataTimeout <= 0 {
		return fmt.Errorf("metadata_timeout: must be positive, got %s", c.MetadataTimeout)
	}
	if u := c.MetadataURL; u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return fmt.Errorf("metadata_url: %q is not an http(s) URL", u)
	}
	return nil
}

// Client returns a metadata client as configured: one per run, shared by
// the areas that need it.
func (c Config) Client() *Client {
	md := NewClient(c.MetadataURL)
	md.Timeout = c.MetadataTimeout
	return md
}
