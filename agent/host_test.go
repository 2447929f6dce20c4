package agent

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/vigie-agent/vigie/agent/config"
	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/scaleway/scalewaytest"
	"github.com/vigie-agent/vigie/internal/reportschema"
)

// TestScalewayIdentity: on an instance whose metadata the run reads, the
// report's host.cloud carries what an audit asks of the instance beside
// its identity (its security group, public addresses, private networks
// and tags, but the tags that hold a key), and the report still matches
// its schema.
func TestScalewayIdentity(t *testing.T) {
	body, _ := scalewaytest.Fixture(t, "exposure-routed.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	t.Cleanup(srv.Close)
	cfg := config.Defaults()
	cfg.Scaleway.MetadataURL = srv.URL + "/conf?format=json"
	cfg.Only = []string{"ssh"}
	r, err := NewRun(cfg, host.DefaultEnv())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Check(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	want := &report.Cloud{
		Provider: "scaleway", ServerID: "5a1c9e3b-7d2f-4b6a-9e8c-1f0a2b3c4d5e", Zone: "fr-par-2", CommercialType: "POP2-4C-16G",
		SecurityGroup: &report.SecurityGroup{ID: "df92a3b4-c5d6-47e8-a2f3-7e8f90a1b2c3", Name: "hds-app"},
		PublicIPv4:    []string{"198.51.100.77"}, PublicIPv6: []string{"2001:db8:1f0c:a100::1"},
		PrivateNetworks: []report.PrivateNetwork{
			{ID: "ac6f7081-92a3-44b5-afc0-4b5c6d7e8f90", NICID: "9b5e6f70-8192-43a4-9ebf-3a4b5c6d7e8f", MACAddress: "02:00:00:1a:2b:3c"},
			{ID: "ce8192a3-b4c5-46d7-91e2-6d7e8f90a1b2", NICID: "bd708192-a3b4-45c6-80d1-5c6d7e8f90a1", MACAddress: "02:00:00:4d:5e:6f"},
		},
		Tags: []string{"env=prod", "hds", "owner=team-sante"},
	}
	if !reflect.DeepEqual(rep.Host.Cloud, want) {
		t.Errorf("host.cloud:\n got  %+v\n want %+v", rep.Host.Cloud, want)
	}
	var buf bytes.Buffer
	if err := (report.JSON{Indent: true}).Format(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if err := reportschema.Check(buf.Bytes()); err != nil {
		t.Fatalf("report does not match the schema: %v\n%s", err, buf.String())
	}
}
