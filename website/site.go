package website

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Page is one page of the site.
type Page struct {
	// Path is the output path, e.g. "guides/kv.html".
	Path string
	// Section groups pages in the navigation.
	Section string
	// Source is the Markdown source relative to the module root
	// ("website/content/tutorial.md", "docs/kv.md"); empty for a generated page.
	Source string
	// Gen produces a generated page's Markdown.
	Gen func(in *Inputs) ([]byte, error)
	// Nav is the page's name in the navigation; empty means its title
	// (the first level-1 heading).
	Nav string
}

// Sections, in navigation order.
const (
	secStart     = "Start"
	secGuides    = "Guides"
	secReference = "Reference"
	secInternals = "Internals"
)

// Pages is the site's table of contents, in navigation order. A page of
// docs/ is included as it is; the site maps its links to other docs/ pages
// onto their site pages.
func Pages() []Page {
	return []Page{
		{Path: "index.html", Section: secStart, Source: "website/content/index.md", Nav: "Home"},
		{Path: "tutorial.html", Section: secStart, Source: "website/content/tutorial.md", Nav: "Tutorial"},
		{Path: "compare.html", Section: secStart, Source: "website/content/compare.md", Nav: "Comparison"},

		{Path: "guides/kv.html", Section: secGuides, Source: "docs/kv.md", Nav: "KV, sessions and locks"},
		{Path: "guides/discovery.html", Section: secGuides, Source: "docs/catalog.md", Nav: "Service discovery"},
		{Path: "guides/dns.html", Section: secGuides, Source: "docs/dns.md", Nav: "DNS"},
		{Path: "guides/health-checks.html", Section: secGuides, Source: "website/content/health-checks.md"},
		{Path: "guides/deployments.html", Section: secGuides, Source: "docs/scheduler.md", Nav: "KV-driven deployments"},
		{Path: "guides/overlay.html", Section: secGuides, Source: "docs/overlay.md", Nav: "Overlay network"},
		{Path: "guides/swarm-demo.html", Section: secGuides, Source: "docs/swarm-demo.md", Nav: "Published ports and VIPs"},
		{Path: "guides/operating.html", Section: secGuides, Source: "website/content/operating.md"},
		{Path: "guides/snapshots.html", Section: secGuides, Source: "docs/snapshot.md", Nav: "Snapshots"},
		{Path: "guides/configuration.html", Section: secGuides, Source: "docs/configuration.md", Nav: "Configuration"},
		{Path: "guides/ui.html", Section: secGuides, Source: "docs/ui.md", Nav: "Web UI"},
		{Path: "guides/security.html", Section: secGuides, Source: "docs/security.md", Nav: "Security"},
		{Path: "guides/acl.html", Section: secGuides, Source: "docs/acl.md", Nav: "ACLs"},
		{Path: "guides/migrating-from-consul.html", Section: secGuides, Source: "website/content/migrating.md"},
		{Path: "guides/consul-compat.html", Section: secGuides, Source: "docs/consul-compat.md", Nav: "Consul API coverage"},

		{Path: "reference/api.html", Section: secReference, Gen: genAPI},
		{Path: "reference/cli.html", Section: secReference, Gen: genCLI},
		{Path: "reference/config.html", Section: secReference, Gen: genConfig},
		{Path: "reference/spec.html", Section: secReference, Gen: genSpec},

		{Path: "internals/architecture.html", Section: secInternals, Source: "docs/architecture.md", Nav: "Architecture"},
		{Path: "internals/scheduler.html", Section: secInternals, Source: "sched/README.md", Nav: "Scheduler internals"},
		{Path: "internals/reliability.html", Section: secInternals, Source: "docs/reliability.md", Nav: "Reliability"},
		{Path: "internals/disk-errors.html", Section: secInternals, Source: "docs/disk-errors.md", Nav: "Disk errors"},
		{Path: "internals/chaos.html", Section: secInternals, Source: "docs/chaos.md", Nav: "Chaos testing"},
		{Path: "internals/performance.html", Section: secInternals, Source: "docs/performance.md", Nav: "Performance"},
	}
}

// Inputs are what a build reads besides the page sources.
type Inputs struct {
	// Root is the module root: sources and Go files are read below it.
	Root string
	// Examples are the captured API examples (examples/api.json).
	Examples Examples
}

//go:embed layout
var layoutFS embed.FS

var pageTmpl = template.Must(template.ParseFS(layoutFS, "layout/page.html"))

// navItem is one link of the navigation, as seen from the page rendered.
type navItem struct {
	Title, URL string
	Current    bool
}

type navSection struct {
	Name  string
	Items []navItem
}

// searchEntry is one page in the offline search index.
type searchEntry struct {
	Title    string   `json:"t"`
	URL      string   `json:"u"`
	Headings []string `json:"h"`
	Text     string   `json:"x"`
}

// searchTextLimit bounds each page's text in the index.
const searchTextLimit = 4000

// Build renders the site from the module at root: every page, the style
// sheet, the search script and its index. It returns the files by site path
// and fails if a page fails to render or a link or anchor is broken.
func Build(root string) (map[string][]byte, error) {
	in := &Inputs{Root: root}
	var err error
	if in.Examples, err = LoadExamples(filepath.Join(root, examplesPath)); err != nil {
		return nil, err
	}
	pages := Pages()
	bySource := map[string]string{}
	for _, p := range pages {
		if p.Source != "" {
			bySource[p.Source] = p.Path
		} else {
			// Content links to a generated page as if its source were
			// website/content/<path>.md: "reference/api.md#route-kv-key".
			bySource["website/content/"+strings.TrimSuffix(p.Path, ".html")+".md"] = p.Path
		}
	}
	var unresolved []string
	rendered := make([]rendered, len(pages))
	for i, p := range pages {
		src, err := pageSource(in, p)
		if err != nil {
			return nil, err
		}
		resolve := func(dest string) (string, bool) {
			file, frag, _ := strings.Cut(dest, "#")
			if file == "" {
				return dest, true
			}
			srcDir := path.Dir(p.Source)
			if p.Source == "" {
				srcDir = "website/content"
			}
			target, ok := bySource[path.Join(srcDir, file)]
			if !ok {
				if strings.HasSuffix(file, ".md") {
					unresolved = append(unresolved, fmt.Sprintf("%s: link to %s, which is no page of the site", p.Source, dest))
				}
				return "", false // a source file, say: shown as text
			}
			url := relURL(p.Path, target)
			if frag != "" {
				url += "#" + frag
			}
			return url, true
		}
		r, err := renderMarkdown(src, resolve)
		if err != nil {
			return nil, fmt.Errorf("website: %s: %w", p.Path, err)
		}
		if r.Title == "" {
			return nil, fmt.Errorf("website: %s has no level-1 heading", p.Path)
		}
		rendered[i] = r
	}

	if len(unresolved) > 0 {
		return nil, fmt.Errorf("website: broken links:\n  %s", strings.Join(unresolved, "\n  "))
	}

	files := map[string][]byte{}
	var index []searchEntry
	for i, p := range pages {
		var nav []navSection
		for j, q := range pages {
			if len(nav) == 0 || nav[len(nav)-1].Name != q.Section {
				nav = append(nav, navSection{Name: q.Section})
			}
			s := &nav[len(nav)-1]
			title := q.Nav
			if title == "" {
				title = rendered[j].Title
			}
			s.Items = append(s.Items, navItem{Title: title, URL: relURL(p.Path, q.Path), Current: i == j})
		}
		var buf bytes.Buffer
		err := pageTmpl.Execute(&buf, map[string]any{
			"Title":   rendered[i].Title,
			"Content": template.HTML(rendered[i].HTML),
			"Nav":     nav,
			"Root":    relURL(p.Path, ""),
			"Source":  p.Source,
		})
		if err != nil {
			return nil, fmt.Errorf("website: layout of %s: %w", p.Path, err)
		}
		files[p.Path] = buf.Bytes()
		text := rendered[i].Text
		if len(text) > searchTextLimit {
			text = strings.ToValidUTF8(text[:searchTextLimit], "")
		}
		index = append(index, searchEntry{Title: rendered[i].Title, URL: p.Path, Headings: rendered[i].Headings, Text: text})
	}

	css, err := layoutFS.ReadFile("layout/style.css")
	if err != nil {
		return nil, err
	}
	theme, err := chromaCSS()
	if err != nil {
		return nil, err
	}
	files["style.css"] = append(css, theme...)
	if files["search.js"], err = layoutFS.ReadFile("layout/search.js"); err != nil {
		return nil, err
	}
	idx, err := json.Marshal(index)
	if err != nil {
		return nil, err
	}
	// A script, not JSON to fetch, so search works from file:// too.
	files["search-index.js"] = []byte("var shoalSearchIndex = " + string(idx) + ";\n")

	if problems := CheckLinks(files); len(problems) > 0 {
		return nil, fmt.Errorf("website: broken links:\n  %s", strings.Join(problems, "\n  "))
	}
	return files, nil
}

func pageSource(in *Inputs, p Page) ([]byte, error) {
	if p.Gen != nil {
		b, err := p.Gen(in)
		if err != nil {
			return nil, fmt.Errorf("website: generate %s: %w", p.Path, err)
		}
		return b, nil
	}
	b, err := os.ReadFile(filepath.Join(in.Root, filepath.FromSlash(p.Source)))
	if err != nil {
		return nil, fmt.Errorf("website: %w", err)
	}
	return b, nil
}

// Write replaces dir's contents with files.
func Write(dir string, files map[string][]byte) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// ModuleRoot finds the directory holding go.mod at or above dir.
func ModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("website: no go.mod at or above %s", dir)
		}
		dir = parent
	}
}
