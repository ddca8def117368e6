package website

import (
	"bytes"
	"fmt"
	"path"
	"strings"

	"github.com/alecthomas/chroma/v2"
	chromahtml "github.com/alecthomas/chroma/v2/formatters/html"
	"github.com/alecthomas/chroma/v2/lexers"
	"github.com/alecthomas/chroma/v2/styles"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// chromaStyle is the highlighting theme; its CSS goes into style.css.
const chromaStyle = "github"

// rendered is one Markdown page turned into HTML.
type rendered struct {
	HTML     string
	Title    string   // the first level-1 heading's text
	Headings []string // text of level-2 headings, for the search index
	Text     string   // plain text, for the search index
}

// linkResolver maps a link destination written in a source file (e.g.
// "kv.md#sessions" in docs/reliability.md) to a URL relative to the page
// being rendered. ok is false for a destination that is not a site page:
// the link is then rendered as plain text.
type linkResolver func(dest string) (url string, ok bool)

// renderMarkdown renders src. resolve rewrites relative links.
func renderMarkdown(src []byte, resolve linkResolver) (rendered, error) {
	md := goldmark.New(
		goldmark.WithExtensions(extension.GFM),
		goldmark.WithParserOptions(
			parser.WithAutoHeadingID(),
			parser.WithAttribute(),
			parser.WithASTTransformers(util.Prioritized(linkTransformer{resolve}, 100)),
		),
		goldmark.WithRendererOptions(
			html.WithUnsafe(), // sources are our own files
			renderer.WithNodeRenderers(util.Prioritized(codeRenderer{}, 100)),
		),
	)
	doc := md.Parser().Parse(text.NewReader(src))
	var out rendered
	var plain strings.Builder
	err := ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			t := nodeText(n, src)
			if n.Level == 1 && out.Title == "" {
				out.Title = t
			} else if n.Level == 2 {
				out.Headings = append(out.Headings, t)
			}
		case *ast.Text:
			plain.Write(n.Segment.Value(src))
			plain.WriteByte(' ')
		}
		return ast.WalkContinue, nil
	})
	if err != nil {
		return out, err
	}
	var buf bytes.Buffer
	if err := md.Renderer().Render(&buf, src, doc); err != nil {
		return out, err
	}
	out.HTML = buf.String()
	out.Text = strings.Join(strings.Fields(plain.String()), " ")
	return out, nil
}

// nodeText is the concatenated text of n's descendants.
func nodeText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering {
			switch c := c.(type) {
			case *ast.Text:
				b.Write(c.Segment.Value(src))
			case *ast.String:
				b.Write(c.Value)
			}
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

// linkTransformer rewrites relative links through a linkResolver and
// unwraps the links it cannot resolve (links to source files, say) into
// their text.
type linkTransformer struct{ resolve linkResolver }

func (t linkTransformer) Transform(doc *ast.Document, _ text.Reader, _ parser.Context) {
	var unwrap []*ast.Link
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		l, ok := n.(*ast.Link)
		if !entering || !ok {
			return ast.WalkContinue, nil
		}
		dest := string(l.Destination)
		if isExternal(dest) || strings.HasPrefix(dest, "#") {
			return ast.WalkContinue, nil
		}
		if url, ok := t.resolve(dest); ok {
			l.Destination = []byte(url)
		} else {
			unwrap = append(unwrap, l)
		}
		return ast.WalkContinue, nil
	})
	for _, l := range unwrap {
		parent := l.Parent()
		for c := l.FirstChild(); c != nil; {
			next := c.NextSibling()
			parent.InsertBefore(parent, l, c)
			c = next
		}
		parent.RemoveChild(parent, l)
	}
}

func isExternal(dest string) bool {
	return strings.Contains(dest, "://") || strings.HasPrefix(dest, "mailto:")
}

// relURL is the URL of page target as seen from page from (both site paths
// such as "guides/kv.html").
func relURL(from, target string) string {
	dir := path.Dir(from)
	if dir == "." {
		return target
	}
	up := strings.Repeat("../", strings.Count(dir, "/")+1)
	return up + target
}

// codeRenderer renders fenced code blocks highlighted by chroma, with CSS
// classes (the theme is in style.css) so pages stay small.
type codeRenderer struct{}

func (codeRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindFencedCodeBlock, renderCode)
	reg.Register(ast.KindCodeBlock, renderCode)
}

func renderCode(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	var code bytes.Buffer
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		code.Write(seg.Value(src))
	}
	lang := ""
	if f, ok := n.(*ast.FencedCodeBlock); ok && f.Info != nil {
		lang = string(f.Language(src))
	}
	if err := highlight(w, code.String(), lang); err != nil {
		return ast.WalkStop, fmt.Errorf("website: highlight %s block: %w", lang, err)
	}
	return ast.WalkSkipChildren, nil
}

var codeFormatter = chromahtml.New(chromahtml.WithClasses(true), chromahtml.TabWidth(4))

// highlight writes code as a highlighted <pre> block.
func highlight(w util.BufWriter, code, lang string) error {
	var lexer chroma.Lexer
	switch lang {
	case "", "text", "txt":
	case "sh", "shell", "console":
		lexer = lexers.Get("bash")
	default:
		lexer = lexers.Get(lang)
	}
	if lexer == nil {
		lexer = lexers.Fallback
	}
	it, err := chroma.Coalesce(lexer).Tokenise(nil, code)
	if err != nil {
		return err
	}
	return codeFormatter.Format(w, styles.Get(chromaStyle), it)
}

// chromaCSS is the highlighting theme as CSS classes.
func chromaCSS() (string, error) {
	var b bytes.Buffer
	err := codeFormatter.WriteCSS(&b, styles.Get(chromaStyle))
	return b.String(), err
}
