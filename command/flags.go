package command

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/cli"
)

// helpWidth is the column at which flag descriptions are wrapped.
const helpWidth = 80

// flagSection is a titled group of flags rendered in a command's help.
type flagSection struct {
	title string
	flags *flag.FlagSet
}

// newFlagSet returns an empty FlagSet that reports errors to the caller
// instead of printing them or exiting.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// mergeFlags copies every flag of each src into dst, so a command can parse
// with one FlagSet while its help shows the groups separately.
func mergeFlags(dst *flag.FlagSet, srcs ...*flag.FlagSet) {
	for _, src := range srcs {
		src.VisitAll(func(f *flag.Flag) {
			dst.Var(f.Value, f.Name, f.Usage)
		})
	}
}

// helpText renders a command's help: the usage text (whose first line is
// the "Usage: ..." line) followed by one section per non-empty flag group.
// The flag sections are generated from the FlagSets, so they never drift
// from what the command actually accepts.
func helpText(usage string, sections ...flagSection) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(usage))
	for _, s := range sections {
		if s.flags == nil {
			continue
		}
		var entries []string
		s.flags.VisitAll(func(f *flag.Flag) { entries = append(entries, flagHelp(f)) })
		if len(entries) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n\n%s:\n\n%s", s.title, strings.Join(entries, "\n\n"))
	}
	return b.String()
}

// flagHelp renders one flag in Consul's help layout:
//
//	-name=<placeholder>
//	   Wrapped description.
func flagHelp(f *flag.Flag) string {
	placeholder, usage := flag.UnquoteUsage(f)
	name := "  -" + f.Name
	if !isBoolFlag(f) {
		name += "=<" + placeholder + ">"
	}
	return name + "\n" + wrap(usage, 5, helpWidth)
}

// isBoolFlag reports whether f can be given without a value.
func isBoolFlag(f *flag.Flag) bool {
	bf, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && bf.IsBoolFlag()
}

// wrap word-wraps s so that no line exceeds width columns (unless a single
// word is longer), indenting every line by indent spaces.
func wrap(s string, indent, width int) string {
	pad := strings.Repeat(" ", indent)
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case indent+len(line)+1+len(word) > width:
			lines = append(lines, pad+line)
			line = word
		default:
			line += " " + word
		}
	}
	if line != "" {
		lines = append(lines, pad+line)
	}
	return strings.Join(lines, "\n")
}

// parseFlags parses args with fs. On failure it prints the problem and the
// command's help to the UI and returns false; the caller should exit 1.
func parseFlags(ui cli.Ui, fs *flag.FlagSet, args []string, help string) bool {
	err := fs.Parse(args)
	if err == nil {
		return true
	}
	if errors.Is(err, flag.ErrHelp) {
		ui.Error(help)
		return false
	}
	usageError(ui, err.Error(), help)
	return false
}

// usageError reports a usage problem followed by the command's help text
// (which starts with the usage line) and returns the exit code 1.
func usageError(ui cli.Ui, msg, help string) int {
	ui.Error(msg)
	ui.Error("")
	ui.Error(help)
	return 1
}

// checkArgCount returns an error message when got positional arguments do
// not match want, or "" when they do.
func checkArgCount(got, want int) string {
	if got == want {
		return ""
	}
	if got > want {
		return fmt.Sprintf("Too many arguments (expected %d, got %d)", want, got)
	}
	return fmt.Sprintf("Too few arguments (expected %d, got %d)", want, got)
}
