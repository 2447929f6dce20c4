// Command gendocs writes docs/checks.md from the catalogue (`make docs`).
package main

import (
	"fmt"
	"os"

	"github.com/vigie-agent/vigie/agent"
	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/internal/atomicfile"
)

func main() {
	out := "docs/checks.md"
	if len(os.Args) > 1 {
		out = os.Args[1]
	}
	if err := atomicfile.Write(out, report.CatalogueMarkdown(agent.Catalogue(), agent.OwnChecks()...), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}
