package command

import (
	"strings"
	"text/tabwriter"
)

// formatTable aligns rows into space-separated columns (two spaces between
// columns, no trailing whitespace) in the style of Consul's CLI output.
func formatTable(rows [][]string) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, row := range rows {
		// Writes to a strings.Builder cannot fail.
		_, _ = tw.Write([]byte(strings.Join(row, "\t") + "\n"))
	}
	_ = tw.Flush()
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	for i, line := range lines {
		// An empty last cell leaves the previous column's padding behind.
		lines[i] = strings.TrimRight(line, " ")
	}
	return strings.Join(lines, "\n")
}
