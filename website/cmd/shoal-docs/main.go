// Command shoal-docs builds Shoal's documentation site into a folder:
//
//	go run ./website/cmd/shoal-docs -out site
//
// It reads the module it runs in (website/content, docs/, the code's route,
// command and config tables) and needs no network.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/shoalproject/shoal/website"
)

func main() {
	out := flag.String("out", "site", "directory to write the site into (replaced)")
	flag.Parse()
	start := time.Now()
	root, err := website.ModuleRoot(".")
	if err == nil {
		var files map[string][]byte
		if files, err = website.Build(root); err == nil {
			err = website.Write(*out, files)
			if err == nil {
				fmt.Fprintf(os.Stderr, "shoal-docs: %d files in %s (%s)\n", len(files), *out, time.Since(start).Round(time.Millisecond))
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "shoal-docs:", err)
		os.Exit(1)
	}
}
