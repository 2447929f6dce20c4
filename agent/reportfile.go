package agent

import (
	"context"
	"fmt"
	"io"

	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/host/hostfs"
)

// ReadReport reads a report of `vigie check --json` for `vigie diff`: a
// path ("-" for standard input). The file is read the way vigie reads any
// file a user may have planted (under /tmp, say): a regular file only,
// never a FIFO or a device (opening one can block, or arm a watchdog),
// bounded before it is decoded, and what is not a report is refused
// without quoting it.
func ReadReport(ctx context.Context, path string, stdin io.Reader) (*report.Report, error) {
	var b []byte
	if path == "-" {
		var err error
		if b, err = io.ReadAll(io.LimitReader(stdin, report.MaxReportFile+1)); err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
	} else {
		var err error
		if b, err = hostfs.ReadFile(ctx, path, hostfs.Spec{Max: report.MaxReportFile}); err != nil {
			return nil, err
		}
	}
	return report.Parse(b, path)
}
