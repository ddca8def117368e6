package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
)

// HelloDockerfile is the Dockerfile of the image BuildHello builds. Its
// engine health check ("hello -health", every second) fails when the
// container runs with FAIL_HEALTH=1.
const HelloDockerfile = `FROM scratch
COPY hello /hello
EXPOSE 8080
HEALTHCHECK --interval=1s --timeout=2s --retries=1 CMD ["/hello", "-health"]
ENTRYPOINT ["/hello"]
`

var (
	buildMu  sync.Mutex
	helloBin []byte              // the static binary, built once per process
	built    = map[string]bool{} // host + " " + tag: image built in this process
)

// BuildHello builds testdata/hello (CGO_ENABLED=0) and, on the engine at
// host, an image tagged tag: FROM scratch, the binary as /hello, its
// entrypoint and health check (HelloDockerfile). Each binary and image is built once per process; later calls
// return at once. It fails the test when a build fails.
func BuildHello(t testing.TB, host, tag string) {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	key := host + " " + tag
	if built[key] {
		return
	}
	start := time.Now()
	if err := buildHelloLocked(host, tag); err != nil {
		t.Fatalf("dockertest: %v", err)
	}
	t.Logf("dockertest: built image %s on %s in %v", tag, host, time.Since(start).Round(time.Millisecond))
}

// BuildHelloImage is BuildHello for programs other than tests (such as
// tools/schedtime): it returns the error instead of failing a test.
func BuildHelloImage(host, tag string) error {
	buildMu.Lock()
	defer buildMu.Unlock()
	return buildHelloLocked(host, tag)
}

// buildHelloLocked builds the image unless it was built; buildMu is held.
func buildHelloLocked(host, tag string) error {
	key := host + " " + tag
	if built[key] {
		return nil
	}
	if helloBin == nil {
		bin, err := buildHelloBinary()
		if err != nil {
			return err
		}
		helloBin = bin
	}
	if err := buildImage(host, tag, helloBin); err != nil {
		return fmt.Errorf("build image %s: %w", tag, err)
	}
	built[key] = true
	return nil
}

// HelloBinary returns the path of a static testdata/hello binary in dir,
// for tests that run it as a process.
func HelloBinary(t testing.TB, dir string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if helloBin == nil {
		bin, err := buildHelloBinary()
		if err != nil {
			t.Fatalf("dockertest: %v", err)
		}
		helloBin = bin
	}
	path := filepath.Join(dir, "hello")
	if err := os.WriteFile(path, helloBin, 0o755); err != nil {
		t.Fatalf("dockertest: %v", err)
	}
	return path
}

// buildHelloBinary compiles testdata/hello as a static linux binary for
// this machine's architecture and returns its bytes.
func buildHelloBinary() ([]byte, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "shoal-hello-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "hello")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./testdata/hello")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./testdata/hello: %v: %s", err, msg)
	}
	return os.ReadFile(out)
}

// moduleRoot finds the module's directory (the one with go.mod and
// testdata/hello) above the working directory, else above this source file.
func moduleRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				if _, err := os.Stat(filepath.Join(dir, "testdata", "hello", "main.go")); err == nil {
					return dir, nil
				}
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("testdata/hello/main.go not found above the working directory nor this package's source")
}

// buildImage sends a build context of Dockerfile and binary to the engine
// (the classic builder, which every engine version has) and waits for it.
func buildImage(host, tag string, bin []byte) error {
	var ctxTar bytes.Buffer
	tw := tar.NewWriter(&ctxTar)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{
		{"Dockerfile", 0o644, []byte(HelloDockerfile)},
		{"hello", 0o755, bin},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}

	c, err := client.New(client.WithHost(host))
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := c.ImageBuild(ctx, &ctxTar, client.ImageBuildOptions{
		Tags:        []string{tag},
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return err
	}
	defer res.Body.Close()
	// The body is a stream of JSON messages; a failed step ends it with
	// {"error": ...}.
	dec := json.NewDecoder(res.Body)
	for {
		var msg struct {
			Stream string `json:"stream"`
			Error  string `json:"error"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if msg.Error != "" {
			return errors.New(msg.Error)
		}
	}
}
