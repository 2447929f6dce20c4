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
	// MetadataTimeout bounds the whole lookup of a run, every attempt
	// included (DefaultTimeout): the first attempt gets 250 ms, later ones
	// more, within what is left.
	MetadataTimeout time.Duration `mapstructure:"metadata_timeout"`
}

// MaxTimeout is the largest metadata_timeout accepted: the lookup happens
// inside an area's deadline.
const MaxTimeout = time.Minute

// MinTimeout is the smallest metadata_timeout accepted: one attempt of
// the least time worth one, which the API answers in on an idle host.
const MinTimeout = 100 * time.Millisecond

// DefaultConfig is the section when nothing is set.
func DefaultConfig() Config { return Config{MetadataTimeout: DefaultTimeout} }

// Validate names the first key whose value this build cannot use.
func (c Config) Validate() error {
	if c.MetadataTimeout < MinTimeout {
		return fmt.Errorf("metadata_timeout: at least %s (below it no request is worth sending), got %s", MinTimeout, c.MetadataTimeout)
	}
	if c.MetadataTimeout > MaxTimeout {
		return fmt.Errorf("metadata_timeout: at most %s (it bounds the whole lookup, every area waits for it), got %s", MaxTimeout, c.MetadataTimeout)
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
