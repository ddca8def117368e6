package chaos

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Modes of a run.
const (
	ModeConsistent = "consistent" // register + lock under faults, ?consistent reads
	ModeDefault    = "default"    // register + lock under faults, default-mode reads
	ModeCrash      = "crash"      // kill -9 cycles, restarts must succeed
)

// Environment variables that set a Config (see ConfigFromEnv).
const (
	EnvDuration     = "SHOAL_CHAOS_DURATION"      // Go duration, e.g. 90s
	EnvSeed         = "SHOAL_CHAOS_SEED"          // int64; each run of a test adds its run number
	EnvModes        = "SHOAL_CHAOS_MODES"         // comma-separated modes for TestChaos
	EnvRuns         = "SHOAL_CHAOS_RUNS"          // runs per mode
	EnvCycles       = "SHOAL_CHAOS_CYCLES"        // kill -9 cycles of a crash run
	EnvClients      = "SHOAL_CHAOS_CLIENTS"       // register clients
	EnvKeys         = "SHOAL_CHAOS_KEYS"          // register keys
	EnvCheckTimeout = "SHOAL_CHAOS_CHECK_TIMEOUT" // porcupine's time limit per model
	EnvOut          = "SHOAL_CHAOS_OUT"           // where violations are written
	EnvFaults       = "SHOAL_CHAOS_FAULTS"        // "off": the same workload with no faults, a baseline
)

// ErrConfig is returned by Validate and ConfigFromEnv for a bad setting.
var ErrConfig = errors.New("chaos: bad config")

// Config is what one run does.
type Config struct {
	// Mode is ModeConsistent, ModeDefault or ModeCrash. Default consistent.
	Mode string
	// Duration is how long faults are injected in the consistent and
	// default modes (longer if needed to inject every kind of fault once).
	// Default 45s.
	Duration time.Duration
	// Seed seeds the nemesis and the clients. Default: the clock.
	Seed int64
	// Cycles is the number of kill -9 cycles of a crash run. Default 10.
	Cycles int
	// Clients is the number of register clients, spread over the servers.
	// Default 10. Three lock clients run besides, one per server.
	Clients int
	// Keys is the number of register keys. Default 5.
	Keys int
	// OpTimeout bounds every HTTP request. Default 2.5s.
	OpTimeout time.Duration
	// ThinkTime is the pause between two operations of a client, which
	// bounds the history (and the checker's work). Default 15ms.
	ThinkTime time.Duration
	// CheckTimeout bounds porcupine's search per model; a search that
	// runs out is reported as Unknown, never as a pass. Default 2m.
	CheckTimeout time.Duration
	// NoFaults runs the consistent or default workload for Duration with
	// no fault at all: the baseline that throughput under faults is
	// compared with.
	NoFaults bool
	// OutDir receives the HTML view and history of a violation. Empty
	// means a new directory under the system temp dir, made only when
	// there is something to write.
	OutDir string
}

// DefaultConfig returns the bounded CI configuration of a mode.
func DefaultConfig(mode string) Config {
	return Config{
		Mode: mode, Duration: 45 * time.Second, Seed: time.Now().UnixNano(), Cycles: 10,
		Clients: 10, Keys: 5, OpTimeout: 2500 * time.Millisecond, ThinkTime: 15 * time.Millisecond,
		CheckTimeout: 2 * time.Minute,
	}
}

// Validate reports a setting that cannot work, wrapping ErrConfig.
func (c Config) Validate() error {
	switch {
	case c.Mode != ModeConsistent && c.Mode != ModeDefault && c.Mode != ModeCrash:
		return fmt.Errorf("%w: mode %q (want %s, %s or %s)", ErrConfig, c.Mode, ModeConsistent, ModeDefault, ModeCrash)
	case c.Duration <= 0:
		return fmt.Errorf("%w: duration %v", ErrConfig, c.Duration)
	case c.Cycles < 1 && c.Mode == ModeCrash:
		return fmt.Errorf("%w: %d crash cycles", ErrConfig, c.Cycles)
	case c.Clients < 1 || c.Keys < 1:
		return fmt.Errorf("%w: %d clients, %d keys", ErrConfig, c.Clients, c.Keys)
	case c.OpTimeout <= 0 || c.CheckTimeout <= 0:
		return fmt.Errorf("%w: timeouts %v, %v", ErrConfig, c.OpTimeout, c.CheckTimeout)
	}
	return nil
}

// Env is the environment a Config is read from (os.LookupEnv in tests).
type Env func(name string) (string, bool)

// ConfigFromEnv returns DefaultConfig(mode) with the SHOAL_CHAOS_*
// variables that env sets applied.
func ConfigFromEnv(mode string, env Env) (Config, error) {
	c := DefaultConfig(mode)
	durations := []struct {
		name string
		dst  *time.Duration
	}{{EnvDuration, &c.Duration}, {EnvCheckTimeout, &c.CheckTimeout}}
	for _, d := range durations {
		if v, ok := env(d.name); ok && v != "" {
			x, err := time.ParseDuration(v)
			if err != nil {
				return c, fmt.Errorf("%w: %s=%q: %v", ErrConfig, d.name, v, err)
			}
			*d.dst = x
		}
	}
	ints := []struct {
		name string
		dst  *int
	}{{EnvCycles, &c.Cycles}, {EnvClients, &c.Clients}, {EnvKeys, &c.Keys}}
	for _, i := range ints {
		if v, ok := env(i.name); ok && v != "" {
			x, err := strconv.Atoi(v)
			if err != nil {
				return c, fmt.Errorf("%w: %s=%q: %v", ErrConfig, i.name, v, err)
			}
			*i.dst = x
		}
	}
	if v, ok := env(EnvSeed); ok && v != "" {
		x, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return c, fmt.Errorf("%w: %s=%q: %v", ErrConfig, EnvSeed, v, err)
		}
		c.Seed = x
	}
	if v, ok := env(EnvOut); ok {
		c.OutDir = v
	}
	if v, ok := env(EnvFaults); ok && v != "" {
		switch v {
		case "on":
		case "off":
			c.NoFaults = true
		default:
			return c, fmt.Errorf("%w: %s=%q (want on or off)", ErrConfig, EnvFaults, v)
		}
	}
	return c, c.Validate()
}

// RunsFromEnv returns SHOAL_CHAOS_RUNS (default 1) and the modes of
// SHOAL_CHAOS_MODES (default consistent and default).
func RunsFromEnv(env Env) (runs int, modes []string, err error) {
	runs, modes = 1, []string{ModeConsistent, ModeDefault}
	if v, ok := env(EnvRuns); ok && v != "" {
		if runs, err = strconv.Atoi(v); err != nil || runs < 1 {
			return 0, nil, fmt.Errorf("%w: %s=%q", ErrConfig, EnvRuns, v)
		}
	}
	if v, ok := env(EnvModes); ok && v != "" {
		modes = strings.Split(v, ",")
	}
	return runs, modes, nil
}

// OSEnv reads the process environment.
func OSEnv(name string) (string, bool) { return os.LookupEnv(name) }
