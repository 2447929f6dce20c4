// Package reportschema validates a vigie.report/v1 document against the
// published JSON Schema, docs/report.schema.json, for the tests that judge
// the real binary's output.
package reportschema

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Validate checks data against the schema file at path (formats such as
// date-time asserted).
func Validate(path string, data []byte) error {
	path, err := filepath.Abs(path)
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
	c.AssertFormat()
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
