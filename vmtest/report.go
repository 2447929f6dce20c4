//go:build vmtest

package vmtest

import (
	"encoding/json"
	"fmt"

	"github.com/vigie-agent/vigie/internal/reportschema"
)

// report is the part of a vigie.report/v1 document the tests read.
type report struct {
	Schema   string    `json:"schema"`
	Profile  string    `json:"profile"`
	Host     host      `json:"host"`
	Findings []finding `json:"findings"`
}

type host struct {
	Hostname string `json:"hostname"`
	Cloud    *struct {
		ServerID       string `json:"server_id"`
		Zone           string `json:"zone"`
		CommercialType string `json:"commercial_type"`
		SecurityGroup  *struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"security_group"`
		PublicIPv4 []string `json:"public_ipv4"`
	} `json:"cloud"`
}

type finding struct {
	ID       string     `json:"id"`
	Severity string     `json:"severity"`
	Status   string     `json:"status"`
	Reason   string     `json:"reason"`
	Evidence []evidence `json:"evidence"`
}

type evidence struct {
	Subject string          `json:"subject"`
	Key     string          `json:"key"`
	Value   json.RawMessage `json:"value"`
	Source  string          `json:"source"`
	File    string          `json:"file"`
	Line    int             `json:"line"`
	OK      bool            `json:"ok"`
}

func (r report) finding(id string) (finding, bool) {
	for _, f := range r.Findings {
		if f.ID == id {
			return f, true
		}
	}
	return finding{}, false
}

// stringsBySubject collects the string-array values of one evidence key,
// per subject (the address a live probe connected to).
func (f finding) stringsBySubject(key string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, e := range f.Evidence {
		if e.Key != key {
			continue
		}
		var v []string
		if err := json.Unmarshal(e.Value, &v); err != nil {
			return nil, fmt.Errorf("%s evidence %s of %q is not an array of strings: %s", f.ID, key, e.Subject, e.Value)
		}
		out[e.Subject] = v
	}
	return out, nil
}

// stringBySubject collects the string values of one evidence key, per
// subject.
func (f finding) stringBySubject(key string) (map[string]string, error) {
	out := map[string]string{}
	for _, e := range f.Evidence {
		if e.Key != key {
			continue
		}
		var v string
		if err := json.Unmarshal(e.Value, &v); err != nil {
			return nil, fmt.Errorf("%s evidence %s of %q is not a string: %s", f.ID, key, e.Subject, e.Value)
		}
		out[e.Subject] = v
	}
	return out, nil
}

// validateReport checks a report against docs/report.schema.json.
func validateReport(data []byte) error {
	return reportschema.Check(data)
}
