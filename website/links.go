package website

import (
	"bytes"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"

	"golang.org/x/net/html"
)

// CheckLinks reports every internal link (href, src) among files that
// points to a missing file or to an anchor (id) missing from its page.
// External links (with a scheme) are not followed.
func CheckLinks(files map[string][]byte) []string {
	ids := map[string]map[string]bool{}
	type ref struct{ from, dest string }
	var refs []ref
	for name, b := range files {
		if !strings.HasSuffix(name, ".html") {
			continue
		}
		ids[name] = map[string]bool{}
		doc, err := html.Parse(bytes.NewReader(b))
		if err != nil {
			return []string{fmt.Sprintf("%s: %v", name, err)}
		}
		var walk func(n *html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode {
				for _, a := range n.Attr {
					switch a.Key {
					case "id":
						ids[name][a.Val] = true
					case "href", "src":
						refs = append(refs, ref{name, a.Val})
					}
				}
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(doc)
	}
	var problems []string
	for _, r := range refs {
		u, err := url.Parse(r.dest)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: bad link %q: %v", r.from, r.dest, err))
			continue
		}
		if u.Scheme != "" || u.Host != "" {
			continue
		}
		target := r.from
		if u.Path != "" {
			if strings.HasPrefix(u.Path, "/") {
				problems = append(problems, fmt.Sprintf("%s: absolute link %q breaks under /docs/ and file://", r.from, r.dest))
				continue
			}
			target = path.Join(path.Dir(r.from), u.Path)
			if strings.HasSuffix(u.Path, "/") || target == "." {
				target = path.Join(target, "index.html")
			}
		}
		if _, ok := files[target]; !ok {
			problems = append(problems, fmt.Sprintf("%s: link %q: no file %s", r.from, r.dest, target))
			continue
		}
		if u.Fragment != "" && !ids[target][u.Fragment] {
			problems = append(problems, fmt.Sprintf("%s: link %q: no anchor #%s in %s", r.from, r.dest, u.Fragment, target))
		}
	}
	sort.Strings(problems)
	return problems
}
