// Package e2e runs the real shoal binary as processes: kill -9, restarts
// from data dirs, the CLI against a live cluster, and dev mode start-up.
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoalproject/shoal/internal/dockertest"
	"github.com/shoalproject/shoal/internal/proccluster"
)

// shoalBin is the binary built once for the package's tests.
var shoalBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shoal-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	shoalBin, err = proccluster.Build(ctx, filepath.Join("..", ".."), dir)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := dockertest.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}
