package website

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// shoalLine finds a shoal command line in a page: "shoal …", "./shoal …"
// or "go run . …", at the start of a line or after a shell separator.
var shoalLine = regexp.MustCompile(`(?m)(?:^|[;&|]\s*|\$\(\s*|^\s*[$#]\s+)(?:\./shoal|shoal|go run \.)\s+([a-z][^\n#|;&)]*)`)

// TestShoalCommandsInPages checks every shoal command line in the pages'
// sources: its command must exist in the CLI's table, and no flag may
// follow a positional argument (Go's flag parsing would not read it).
func TestShoalCommandsInPages(t *testing.T) {
	root := moduleRoot(t)
	cmds := CLICommands()
	n := 0
	for _, p := range Pages() {
		if p.Source == "" {
			continue
		}
		src, err := os.ReadFile(filepath.Join(root, p.Source))
		if err != nil {
			t.Fatal(err)
		}
		for _, block := range codeBlocks(string(src)) {
			block = strings.ReplaceAll(block, "\\\n", " ")
			for _, m := range shoalLine.FindAllStringSubmatch(block, -1) {
				words := strings.Fields(m[1])
				name := ""
				for i := len(words); i > 0; i-- {
					if _, ok := cmds[strings.Join(words[:i], " ")]; ok {
						name = strings.Join(words[:i], " ")
						words = words[i:]
						break
					}
				}
				if name == "" {
					if len(words) > 0 && (words[0] == "<command>" || words[0] == "<subcommand>") {
						continue
					}
					t.Errorf("%s: %q: no such shoal command", p.Source, strings.TrimSpace(m[0]))
					continue
				}
				n++
				if strings.Contains(m[1], "[-") {
					continue // a synopsis such as "kv put [-cas -modify-index N] KEY"
				}
				if bad := flagAfterArg(words); bad != "" {
					t.Errorf("%s: %q: flag %s comes after an argument and would not be parsed", p.Source, strings.TrimSpace(m[0]), bad)
				}
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d shoal commands found in the pages", n)
	}
	t.Logf("%d shoal command lines checked", n)
}

// codeBlocks returns the fenced code blocks of Markdown src.
func codeBlocks(src string) []string {
	var out []string
	parts := strings.Split(src, "```")
	for i := 1; i < len(parts); i += 2 {
		_, body, _ := strings.Cut(parts[i], "\n")
		out = append(out, body)
	}
	return out
}

// flagAfterArg returns the first flag among args that follows a positional
// argument; a flag's value is the token after a flag without "=".
func flagAfterArg(args []string) string {
	positional := false
	expectValue := false
	for _, a := range args {
		isFlag := strings.HasPrefix(a, "-") && a != "-" && len(a) > 1
		switch {
		case isFlag && positional:
			return a
		case isFlag:
			expectValue = !strings.Contains(a, "=")
		case expectValue:
			expectValue = false
		default:
			positional = true
		}
	}
	return ""
}
