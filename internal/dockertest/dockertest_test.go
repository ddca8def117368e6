package dockertest

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestEngineAndBuildHello(t *testing.T) {
	host := Engine(t)
	if again := Engine(t); again != host {
		t.Errorf("second Engine = %q, want %q", again, host)
	}
	const tag = "shoal-test/hello:dockertest"
	BuildHello(t, host, tag)
	start := time.Now()
	BuildHello(t, host, tag)
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Errorf("second BuildHello took %v: not cached", took)
	}

	c, err := client.New(client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	img, err := c.ImageInspect(ctx, tag)
	if err != nil {
		t.Fatalf("image %s: %v", tag, err)
	}
	if img.Config == nil || !slices.Equal(img.Config.Entrypoint, []string{"/hello"}) {
		t.Errorf("image config %+v, want entrypoint /hello", img.Config)
	}
	if img.Os != "linux" {
		t.Errorf("image OS %q", img.Os)
	}
}

func TestParseMountsBelow(t *testing.T) {
	// mountsBelow reads this process's mountinfo; the root is never below a
	// temporary directory.
	if got := mountsBelow(t.TempDir()); len(got) != 0 {
		t.Errorf("mountsBelow(empty temp dir) = %v", got)
	}
}
