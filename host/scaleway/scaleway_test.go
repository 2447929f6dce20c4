package scaleway

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vigie-agent/vigie/host/hosttest"
	"github.com/vigie-agent/vigie/internal/fuzzseed"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		files map[string]string
		want  bool
	}{
		{map[string]string{"sys/class/dmi/id/sys_vendor": "Scaleway\n"}, true},
		{map[string]string{"etc/scw-release": "1\n"}, true},
		{map[string]string{"var/run/scaleway": ""}, true},
		{map[string]string{"sys/class/dmi/id/sys_vendor": "QEMU\n"}, false},
		{map[string]string{}, false},
	}
	for _, tt := range tests {
		if got := Detect(context.Background(), hosttest.Env(t, tt.files)); got.Scaleway != tt.want {
			t.Errorf("%v: %+v", tt.files, got)
		}
	}
}

const sample = `{"id":"8f1b0c6e-1d0a-4a5e-9f5c-2f1d2b7a9c31","name":"web-1","hostname":"web-1",
"commercial_type":"PRO2-S","zone":"fr-par-1","location":{"zone_id":"fr-par-1"},
"volumes":{"1":{"id":"a","volume_type":"sbs_volume"},"0":{"id":"b","volume_type":"l_ssd"},"10":{"id":"c","volume_type":"scratch"},"2":{"id":"d","volume_type":"b_ssd"}}}`

// TestNoContactOffScaleway: off Scaleway and without a configured URL the
// client sends nothing, not even to a server that would answer.
func TestNoContactOffScaleway(t *testing.T) {
	srv, hits := sampleServer(t)
	c := NewClient("")
	c.URL = srv.URL // as if the default address answered
	if _, err := c.Get(context.Background(), hosttest.Env(t, nil)); !errors.Is(err, ErrNotScaleway) {
		t.Fatalf("err = %v", err)
	}
	if hits.Load() != 0 {
		t.Fatalf("%d requests sent off Scaleway", hits.Load())
	}
}

// TestNoContactOnImage: on an image tree the metadata API is never asked,
// not even with a configured URL and a Scaleway image (/etc/scw-release)
// checked on a Scaleway machine: it would answer for that machine.
func TestNoContactOnImage(t *testing.T) {
	srv, hits := sampleServer(t)
	env := hosttest.Env(t, map[string]string{"etc/scw-release": "1\n", "sys/class/dmi/id/sys_vendor": "Scaleway\n"})
	env.Image = true
	for _, c := range []*Client{NewClient(srv.URL), func() *Client { c := NewClient(""); c.URL = srv.URL; return c }()} {
		if md, err := c.Get(context.Background(), env); !errors.Is(err, ErrImage) || md != nil {
			t.Fatalf("metadata %v, err = %v", md, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("%d requests sent for an image", hits.Load())
	}
}

func TestGetOnScaleway(t *testing.T) {
	srv, hits := sampleServer(t)
	c := NewClient("")
	c.URL = srv.URL
	env := hosttest.Env(t, map[string]string{"sys/class/dmi/id/sys_vendor": "Scaleway\n"})
	for i := 0; i < 3; i++ {
		md, err := c.Get(context.Background(), env)
		if err != nil {
			t.Fatal(err)
		}
		if md.CommercialType != "PRO2-S" || md.ZoneName() != "fr-par-1" {
			t.Errorf("metadata %+v", md)
		}
		var types []string
		for _, v := range md.SortedVolumes() {
			types = append(types, v.VolumeType)
		}
		if got := types; len(got) != 4 || got[0] != "l_ssd" || got[1] != "sbs_volume" || got[2] != "b_ssd" || got[3] != "scratch" {
			t.Errorf("volume order %v", got)
		}
	}
	if hits.Load() != 1 {
		t.Errorf("%d requests, want 1 per run", hits.Load())
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{"", "{}", "<html>", `{"volumes": 3}`} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("accepted %q", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	fuzzseed.Files(f, "testdata/keys-*.json")
	fuzzseed.Files(f, "testdata/exposure-*.json")
	f.Add([]byte(sample))
	f.Fuzz(func(t *testing.T, b []byte) {
		md, err := Parse(b)
		if err == nil && md.ID == "" && md.CommercialType == "" {
			t.Fatal("accepted metadata without identity")
		}
		if err == nil && len(md.BootKeys()) > len(md.SSHPublicKeys)+len(md.Tags) {
			t.Fatal("more boot keys than keys and tags")
		}
		if err == nil {
			x := md.Exposure()
			for _, l := range [][]string{x.PublicIPv4, x.PublicIPv6, x.Tags} {
				if len(l) > maxExposureItems {
					t.Fatalf("unbounded list of %d", len(l))
				}
				for _, s := range l {
					if len(s) > maxExposureText {
						t.Fatalf("unbounded text %q", s)
					}
				}
			}
			if len(x.PrivateNetworks) > maxExposureItems || len(x.SecurityGroupID) > maxExposureText || len(x.SecurityGroupName) > maxExposureText {
				t.Fatal("unbounded private networks or security group")
			}
		}
	})
}

// sampleServer answers every request with the captured metadata and counts
// the requests.
func sampleServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	hits := new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(sample))
	}))
	t.Cleanup(srv.Close)
	return srv, hits
}

// TestBootKeys: the keys installed at boot, as cloud-init derives them:
// every ssh_public_keys[].key, then every AUTHORIZED_KEY tag with its
// underscores turned into spaces; other tags are not keys.
func TestBootKeys(t *testing.T) {
	b, err := os.ReadFile("testdata/keys-rsa-project.json")
	if err != nil {
		t.Fatal(err)
	}
	md, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	got := md.BootKeys()
	if len(got) != 3 {
		t.Fatalf("%d keys: %+v", len(got), got)
	}
	if k := got[1]; k.Origin != OriginProjectKey || k.Index != 1 || k.Name != "alice-laptop" || k.ID != "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d" || !strings.HasPrefix(k.Line, "ssh-rsa AAAA") || !strings.HasSuffix(k.Line, " alice@laptop") {
		t.Errorf("project key %+v", k)
	}
	if k := got[2]; k.Origin != OriginTag || k.Index != 1 || !strings.HasPrefix(k.Line, "ssh-ed25519 AAAA") || !strings.HasSuffix(k.Line, " deploy key 2026") || !strings.HasPrefix(k.Raw, "AUTHORIZED_KEY=ssh-ed25519_AAAA") {
		t.Errorf("tag key %+v", k)
	}
}

// TestLenientKeysAndTags: entries the service might send that are not what
// the SDK models leave the identity readable and are kept as unreadable.
func TestLenientKeysAndTags(t *testing.T) {
	md, err := Parse([]byte(`{"id":"x","commercial_type":"PRO2-S","ssh_public_keys":[{"key":"ssh-ed25519 AAAA a"},7,{"key":3}],"tags":["AUTHORIZED_KEY=k_1",{"a":1},null]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(md.SSHPublicKeys) != 3 || md.SSHPublicKeys[0].Invalid != "" || md.SSHPublicKeys[1].Invalid == "" || md.SSHPublicKeys[1].Entry != "7" || md.SSHPublicKeys[2].Invalid == "" {
		t.Errorf("keys %+v", md.SSHPublicKeys)
	}
	if len(md.Tags) != 3 || md.Tags[0] != "AUTHORIZED_KEY=k_1" || md.Tags[1] != `{"a":1}` {
		t.Errorf("tags %q", md.Tags)
	}
	if k := md.BootKeys(); len(k) != 4 || k[3].Line != "k 1" || k[3].Index != 0 {
		t.Errorf("boot keys %+v", k)
	}
	for _, in := range []string{`{"id":"x","ssh_public_keys":"none","tags":{}}`, `{"id":"x","ssh_public_keys":null}`} {
		if md, err := Parse([]byte(in)); err != nil || len(md.BootKeys()) != 0 {
			t.Errorf("%s: %v", in, err)
		}
	}
}
