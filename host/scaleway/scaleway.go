// Package scaleway knows the one provider vigie talks to: it detects a
// Scaleway instance from local files only, and reads the instance metadata
// API (server id, zone, commercial type, volumes) when, and only when, the
// detection says Scaleway or the configuration names a metadata URL.
package scaleway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"
)

// DefaultURL is the metadata API, reachable from every Scaleway instance.
const DefaultURL = "http://169.254.42.42/conf?format=json"

// DefaultTimeout bounds one metadata request: the API answers from the
// hypervisor in milliseconds, and a host that is not what it looks like
// must not wait for it.
const DefaultTimeout = 200 * time.Millisecond

// Detection says whether the host is a Scaleway instance, and why.
type Detection struct {
	Scaleway bool
	Evidence string // the file that said so
}

// Detect reads local files only: the DMI vendor, the marker files the
// Scaleway images ship. It never touches the network.
func Detect(ctx context.Context, env *host.Env) Detection {
	if b, err := hostfs.ReadFile(ctx, env.Sys+"/class/dmi/id/sys_vendor", hostfs.Small); err == nil && strings.TrimSpace(string(b)) == "Scaleway" {
		return Detection{true, env.Sys + "/class/dmi/id/sys_vendor = Scaleway"}
	}
	for _, p := range []string{"/var/run/scaleway", "/run/scaleway", "/etc/scw-release"} {
		if env.FS().Exists(ctx, p) {
			return Detection{true, p + " exists"}
		}
	}
	return Detection{}
}

// Metadata is the part of the instance metadata vigie uses.
type Metadata struct {
	ID             string            `json:"id"`
	Name           string            `json:"name"`
	Hostname       string            `json:"hostname"`
	CommercialType string            `json:"commercial_type"`
	Zone           string            `json:"zone"`
	Location       Location          `json:"location"`
	Volumes        map[string]Volume `json:"volumes"`
}

// Location is where the instance runs.
type Location struct {
	ZoneID     string `json:"zone_id"`
	PlatformID string `json:"platform_id"`
}

// Volume is one volume attached to the instance.
type Volume struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	VolumeType string `json:"volume_type"` // l_ssd, b_ssd, sbs_volume, scratch
	Size       int64  `json:"size"`
}

// ZoneName returns the zone as "fr-par-1", whichever field carries it.
func (m *Metadata) ZoneName() string {
	if m.Zone != "" {
		return m.Zone
	}
	return m.Location.ZoneID
}

// SortedVolumes lists the volumes in attachment order ("0", "1"...).
func (m *Metadata) SortedVolumes() []Volume {
	keys := make([]string, 0, len(m.Volumes))
	for k := range m.Volumes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) < len(keys[j])
		}
		return keys[i] < keys[j]
	})
	out := make([]Volume, 0, len(keys))
	for _, k := range keys {
		out = append(out, m.Volumes[k])
	}
	return out
}

const maxBody = 1 << 20

// Parse reads the metadata JSON.
func Parse(b []byte) (*Metadata, error) {
	var m Metadata
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse instance metadata: %w", err)
	}
	if m.ID == "" && m.CommercialType == "" {
		return nil, errors.New("instance metadata has neither id nor commercial_type")
	}
	return &m, nil
}

// Client fetches the metadata at most once per run.
type Client struct {
	URL     string
	Timeout time.Duration
	// Forced is true when the configuration named the URL: then it is
	// contacted even where detection did not say Scaleway.
	Forced bool

	once sync.Once
	md   *Metadata
	err  error
}

// NewClient returns a client for url ("" for the default, contacted only
// on a detected Scaleway instance).
func NewClient(url string) *Client {
	c := &Client{URL: url, Timeout: DefaultTimeout, Forced: url != ""}
	if c.URL == "" {
		c.URL = DefaultURL
	}
	return c
}

// ErrNotScaleway is returned, without any request, off Scaleway.
var ErrNotScaleway = errors.New("not a Scaleway instance (no DMI vendor, /var/run/scaleway or /etc/scw-release): metadata API not contacted")

// Get returns the metadata, asking the API on the first call only. Off a
// detected Scaleway instance, and without a configured URL, it sends
// nothing and returns ErrNotScaleway.
func (c *Client) Get(ctx context.Context, env *host.Env) (*Metadata, error) {
	c.once.Do(func() {
		if !c.Forced && !Detect(ctx, env).Scaleway {
			c.err = ErrNotScaleway
			return
		}
		c.md, c.err = c.fetch(ctx)
	})
	return c.md, c.err
}

func (c *Client) fetch(ctx context.Context) (*Metadata, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("metadata request: %w", err)
	}
	// No proxy: the metadata address is link-local, a proxy would answer
	// for someone else.
	tr := &http.Transport{Proxy: nil}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("metadata %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metadata %s: %s", c.URL, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("metadata %s: %w", c.URL, err)
	}
	return Parse(b)
}
