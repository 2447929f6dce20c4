package firewall

import (
	"fmt"
	"strconv"
	"strings"
)

// Config is the firewall: section of vigie.yaml.
type Config struct {
	// AllowedPorts are the services meant to be reachable from anywhere,
	// as "443/tcp", besides sshd.
	AllowedPorts []string `mapstructure:"allowed_ports"`
}

// DefaultConfig is the section when nothing is set.
func DefaultConfig() Config { return Config{AllowedPorts: []string{}} }

// Validate names the first value this build cannot use.
func (c Config) Validate() error {
	for _, p := range c.AllowedPorts {
		if _, _, err := ParseService(p); err != nil {
			return fmt.Errorf("allowed_ports: %w", err)
		}
	}
	return nil
}

// Options are the area's options with the section applied.
func (c Config) Options() Options {
	o := DefaultOptions()
	o.AllowedPorts = c.AllowedPorts
	return o
}

// ParseService reads "443/tcp" or "51820/udp".
func ParseService(s string) (proto string, port int, err error) {
	p, proto, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(p)
	if !ok || err != nil || n < 1 || n > 65535 || (proto != "tcp" && proto != "udp") {
		return "", 0, fmt.Errorf("%q is not PORT/tcp or PORT/udp", s)
	}
	return proto, n, nil
}
