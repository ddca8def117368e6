package website

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/shoalproject/shoal/agent"
)

// curlLine finds a curl command in a shell code block.
var curlLine = regexp.MustCompile(`(?m)^\s*(?:[$#]\s*)?curl\s.*$`)

// TestCurlCommandsInPagesHitRoutes reads every curl command in the pages'
// Markdown sources and checks that its method and path are a route of the
// API: a renamed or removed route breaks the build instead of the reader.
func TestCurlCommandsInPagesHitRoutes(t *testing.T) {
	root := moduleRoot(t)
	match := routeMatcher()
	methods := map[string][]string{}
	for _, rt := range agent.Routes() {
		methods[rt.Pattern] = rt.Methods
	}
	urlRE := regexp.MustCompile(`(?:https?://)?(?:localhost|127\.0\.0\.\d+|\$[A-Za-z_{}]+)(?::\d+)?(/v1/[^\s'"]*)`)
	n := 0
	for _, p := range Pages() {
		if p.Source == "" {
			continue
		}
		src, err := os.ReadFile(filepath.Join(root, p.Source))
		if err != nil {
			t.Fatal(err)
		}
		joined := strings.ReplaceAll(string(src), "\\\n", " ") // continued lines
		for _, line := range curlLine.FindAllString(joined, -1) {
			m := urlRE.FindStringSubmatch(line)
			if m == nil {
				continue // curl of something else than the API
			}
			n++
			method := "GET"
			if mm := regexp.MustCompile(`-X\s*([A-Z]+)`).FindStringSubmatch(line); mm != nil {
				method = mm[1]
			} else if strings.Contains(line, " -d ") || strings.Contains(line, "--data") || strings.Contains(line, "-T ") {
				method = "POST" // curl's default with a body
				if mm := regexp.MustCompile(`--request\s+([A-Z]+)`).FindStringSubmatch(line); mm != nil {
					method = mm[1]
				}
			}
			path := strings.TrimRight(m[1], `\`)
			pattern := match(method, path)
			if pattern == "" {
				t.Errorf("%s: %q: %s %s is no route", p.Source, strings.TrimSpace(line), method, path)
				continue
			}
			if !contains(methods[pattern], method) {
				t.Errorf("%s: %q: %s %s: route %s takes %v", p.Source, strings.TrimSpace(line), method, path, pattern, methods[pattern])
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d curl commands found in the pages", n)
	}
	t.Logf("%d curl commands in the pages match a route and method", n)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
