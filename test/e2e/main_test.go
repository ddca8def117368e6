// Package e2e runs the real shoal binary as processes: kill -9, restarts
// from data dirs, the CLI against a live cluster, and dev mode start-up.
package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/shoalproject/shoal/internal/dockertest"
	"github.com/shoalproject/shoal/internal/proccluster"
)

// shoalBin is the binary built once for the package's tests.
var shoalBin string

func TestMain(m *testing.M) {
	bin, cleanup, err := proccluster.BuildTemp(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shoalBin = bin
	code := dockertest.Main(m)
	cleanup()
	os.Exit(code)
}
