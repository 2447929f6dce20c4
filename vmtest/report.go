//go:build vmtest

package vmtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// report is the part of a vigie.report/v1 document the tests read.
type report struct {
	Schema   string    `json:"schema"`
	Profile  string    `json:"profile"`
	Host     host      `json:"host"`
	Findings []finding `json:"findings"`
}

type host struct {
	Cloud *struct {
		ServerID string `json:"server_id"`
		Zone     string `json:"zone"`
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

// validateReport checks a report against docs/report.schema.json.
func validateReport(data []byte) error {
	path, err := filepath.Abs(filepath.Join("..", "docs", "report.schema.json"))
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("report schema: %w", err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	c := jsonschema.NewCompiler()
	url := "file://" + path
	if err := c.AddResource(url, doc); err != nil {
		return fmt.Errorf("load %s: %w", path, err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		return fmt.Errorf("compile %s: %w", path, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("report is not JSON: %w", err)
	}
	return sch.Validate(inst)
}
