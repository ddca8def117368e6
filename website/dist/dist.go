// Package dist holds the built docs site, embedded so that every agent
// serves the docs matching its binary at /docs/. The files under site/ are
// generated: rebuild them with `go generate ./website/dist` (website's tests
// fail while they are stale). Edit the sources in website/content and docs/.
package dist

import "embed"

//go:generate go run ../cmd/shoal-docs -out site

// Site is the built site; its files live under "site/".
//
//go:embed all:site
var Site embed.FS
