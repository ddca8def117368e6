package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoalproject/shoal/internal/netlab"
	"github.com/shoalproject/shoal/internal/proccluster"
	"github.com/shoalproject/shoal/internal/testenv"
)

// shoalBin is the binary built once for the package's cluster tests.
var shoalBin string

// BinVar names a prebuilt shoal binary to test instead of building this
// tree's (e.g. an older commit's, to see the suite find its bugs).
const BinVar = "SHOAL_CHAOS_BIN"

func TestMain(m *testing.M) {
	if bin := os.Getenv(BinVar); bin != "" {
		shoalBin = bin
		os.Exit(m.Run())
	}
	bin, cleanup, err := proccluster.BuildTemp(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shoalBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// needLab skips (or, under SHOAL_TEST_STRICT=1, fails) a test that cannot
// build network namespaces and iptables rules here.
func needLab(t *testing.T) {
	t.Helper()
	if err := netlab.Available(); err != nil {
		testenv.Skip(t, "skipping: %v (CI runs as root)", err)
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		testenv.Skip(t, "skipping: partitions need iptables (CI installs it): %v", err)
	}
}

// runOnce runs one chaos run of cfg on a fresh cluster and fails t with
// the report if anything went wrong.
func runOnce(t *testing.T, cfg Config) {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Duration+time.Duration(cfg.Cycles)*40*time.Second+10*time.Minute)
	defer cancel()
	c, err := NewCluster(shoalBin, t.TempDir(), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			for _, p := range c.Procs {
				t.Logf("---- %s log (tail) ----\n%s", p.Name, tail(p.Log(), 60))
			}
		}
	})
	if err := c.Start(ctx); err != nil {
		t.Fatalf("cluster start: %v", err)
	}
	began := time.Now()
	rep := Run(ctx, cfg, c, t.Logf)
	t.Logf("run took %v\n%s", time.Since(began).Round(time.Second), rep)
	if err := rep.Err(); err != nil {
		repro := fmt.Sprintf("%s=%d %s=%s", EnvSeed, cfg.Seed, EnvDuration, cfg.Duration)
		if cfg.Mode == ModeCrash {
			repro = fmt.Sprintf("%s=%d %s=%d", EnvSeed, cfg.Seed, EnvCycles, cfg.Cycles)
		}
		t.Errorf("chaos run failed (reproduce: %s): %v", repro, err)
	}
}

// TestChaos runs the register and lock workload under every kind of fault
// (kill -9, pause, partition; random servers and the leader) once per mode
// of SHOAL_CHAOS_MODES (consistent and default), SHOAL_CHAOS_RUNS times
// (1), each for SHOAL_CHAOS_DURATION (45s). Run i of a test uses seed
// SHOAL_CHAOS_SEED+i.
func TestChaos(t *testing.T) {
	needLab(t)
	runs, modes, err := RunsFromEnv(OSEnv)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range modes {
		if mode == ModeCrash {
			continue // TestChaosCrash
		}
		for i := 0; i < runs; i++ {
			t.Run(fmt.Sprintf("%s/run%d", mode, i+1), func(t *testing.T) {
				cfg, err := ConfigFromEnv(mode, OSEnv)
				if err != nil {
					t.Fatal(err)
				}
				cfg.Seed += int64(i)
				runOnce(t, cfg)
			})
		}
	}
}

// TestChaosCrash kills random servers (and the leader one time in three)
// with SIGKILL SHOAL_CHAOS_CYCLES times (10) during writes; every restart
// must succeed and no acknowledged write may be lost. It runs
// SHOAL_CHAOS_RUNS times.
func TestChaosCrash(t *testing.T) {
	needLab(t)
	runs, _, err := RunsFromEnv(OSEnv)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < runs; i++ {
		t.Run(fmt.Sprintf("run%d", i+1), func(t *testing.T) {
			cfg, err := ConfigFromEnv(ModeCrash, OSEnv)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Seed += int64(i)
			runOnce(t, cfg)
		})
	}
}
