package chaos

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// ms is a time in a hand-written history.
func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func reg(p int, kind Kind, key, value, expect string, result bool, out Outcome, call, ret int) Op {
	return Op{Process: p, Kind: kind, Key: key, Value: value, Expect: expect, Result: result, Outcome: out,
		Call: ms(call), Return: ms(ret), Checked: true}
}

func lk(p int, kind Kind, session string, result bool, out Outcome, call, ret int) Op {
	return Op{Process: p, Kind: kind, Key: "l", Session: session, Result: result, Outcome: out, Call: ms(call), Return: ms(ret)}
}

// TestCheck runs the models on small histories, legal and not: the
// anomalies the suite exists to find must come out Illegal.
func TestCheck(t *testing.T) {
	cases := []struct {
		name    string
		history []Op
		wantErr error // nil: linearizable
	}{
		{"write then read", []Op{
			reg(0, KindWrite, "k", "a", "", true, OK, 0, 10),
			reg(1, KindRead, "k", "a", "", false, OK, 20, 30),
		}, nil},
		{"stale read after acknowledged write", []Op{
			reg(0, KindWrite, "k", "a", "", true, OK, 0, 10),
			reg(0, KindWrite, "k", "b", "", true, OK, 20, 30),
			reg(1, KindRead, "k", "a", "", false, OK, 40, 50),
		}, ErrNotLinearizable},
		{"unknown write seen later", []Op{
			reg(0, KindWrite, "k", "a", "", false, Unknown, 0, 10),
			reg(1, KindRead, "k", "", "", false, OK, 20, 30),
			reg(1, KindRead, "k", "a", "", false, OK, 40, 50),
		}, nil},
		{"unknown write never applied", []Op{
			reg(0, KindWrite, "k", "a", "", false, Unknown, 0, 10),
			reg(1, KindWrite, "k", "b", "", true, OK, 20, 30),
			reg(1, KindRead, "k", "b", "", false, OK, 40, 50),
		}, nil},
		{"failed write is dropped", []Op{
			reg(0, KindWrite, "k", "a", "", false, Failed, 0, 10),
			reg(1, KindRead, "k", "", "", false, OK, 20, 30),
		}, nil},
		{"cas on the value read", []Op{
			reg(0, KindWrite, "k", "a", "", true, OK, 0, 10),
			reg(1, KindCAS, "k", "b", "a", true, OK, 20, 30),
			reg(2, KindCAS, "k", "c", "a", false, OK, 40, 50),
			reg(2, KindRead, "k", "b", "", false, OK, 60, 70),
		}, nil},
		// A refused CAS is not checked (see toPorcupine): an unknown
		// write nobody saw is dropped, and it may be what made it fail.
		{"cas refused after an unseen unknown write", []Op{
			reg(0, KindWrite, "k", "a", "", true, OK, 0, 10),
			reg(2, KindWrite, "k", "x", "", false, Unknown, 12, 15),
			reg(1, KindCAS, "k", "b", "a", false, OK, 20, 30),
			reg(1, KindRead, "k", "a", "", false, OK, 40, 50),
		}, nil},
		{"many unseen unknown writes", manyUnknown(200), nil},
		// The resurrection bug: a write that timed out (a) is applied
		// again after a later acknowledged CAS (b); reads see a again.
		{"old write resurrected after acknowledged cas", []Op{
			reg(0, KindWrite, "k", "a", "", false, Unknown, 0, 10),
			reg(1, KindRead, "k", "a", "", false, OK, 20, 30),
			reg(1, KindCAS, "k", "b", "a", true, OK, 40, 50),
			reg(1, KindRead, "k", "a", "", false, OK, 60, 70),
		}, ErrNotLinearizable},
		{"lost acknowledged write", []Op{
			reg(0, KindWrite, "k", "a", "", true, OK, 0, 10),
			{Process: 9, Kind: KindRead, Key: "k", Value: "", Outcome: OK, Call: ms(90), Return: ms(95), Checked: true, Final: true},
		}, ErrNotLinearizable},
		{"unchecked stale read is not checked", []Op{
			reg(0, KindWrite, "k", "a", "", true, OK, 0, 10),
			{Process: 1, Kind: KindRead, Key: "k", Value: "", Outcome: OK, Call: ms(20), Return: ms(30)},
		}, nil},
		{"keys are independent", []Op{
			reg(0, KindWrite, "k1", "a", "", true, OK, 0, 10),
			reg(1, KindRead, "k2", "", "", false, OK, 20, 30),
		}, nil},
		{"lock taken in turn", []Op{
			lk(0, KindAcquire, "s1", true, OK, 0, 10),
			lk(1, KindAcquire, "s2", false, OK, 20, 30),
			lk(0, KindRelease, "s1", true, OK, 40, 50),
			lk(1, KindAcquire, "s2", true, OK, 60, 70),
		}, nil},
		{"two holders", []Op{
			lk(0, KindAcquire, "s1", true, OK, 0, 10),
			lk(1, KindAcquire, "s2", true, OK, 20, 30),
		}, ErrNotLinearizable},
		{"unknown acquire then refused", []Op{
			lk(0, KindAcquire, "s1", false, Unknown, 0, 10),
			lk(1, KindAcquire, "s2", false, OK, 20, 30),
			lk(0, KindRelease, "s1", true, OK, 40, 50),
		}, nil},
		{"release of a lock not held", []Op{
			lk(0, KindRelease, "s1", true, OK, 0, 10),
		}, ErrNotLinearizable},
		{"destroy frees the lock", []Op{
			lk(0, KindAcquire, "s1", false, Unknown, 0, 10),
			lk(0, KindDestroy, "s1", true, OK, 20, 30),
			lk(1, KindAcquire, "s2", true, OK, 40, 50),
		}, nil},
		{"unknown release may land late", []Op{
			lk(0, KindAcquire, "s1", true, OK, 0, 10),
			lk(0, KindRelease, "s1", false, Unknown, 20, 30),
			lk(0, KindAcquire, "s1", true, OK, 40, 50),
			lk(1, KindAcquire, "s2", true, OK, 60, 70),
		}, nil},
		{"final holder read", []Op{
			lk(0, KindAcquire, "s1", true, OK, 0, 10),
			{Process: 9, Kind: KindRead, Key: lockKeyMarker, Value: "", Outcome: OK, Call: ms(20), Return: ms(30), Checked: true},
		}, ErrNotLinearizable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			res, err := Check(tc.history, 10*time.Second, []Annotation{{Start: ms(5), End: ms(15), Description: "kill s1"}},
				func() (string, error) { return dir, nil })
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Check: %v, want %v (results %+v)", err, tc.wantErr, res)
			}
			if tc.wantErr != nil {
				var html string
				for _, r := range res {
					html += r.HTML
				}
				if _, err := os.Stat(html); err != nil || filepath.Dir(html) != dir {
					t.Fatalf("no visualization written: %q %v", html, err)
				}
			}
		})
	}
}

// manyUnknown is a history of n writes of unknown outcome, none of them
// observed, between acknowledged writes and reads: without dropping the
// unobserved ones the checker's search would double with each.
func manyUnknown(n int) []Op {
	var h []Op
	for i := 0; i < n; i++ {
		t := i * 100
		v := fmt.Sprint("v", i)
		h = append(h, reg(i+1000, KindWrite, "k", fmt.Sprint("u", i), "", false, Unknown, t, t+5),
			reg(0, KindWrite, "k", v, "", true, OK, t+10, t+20),
			reg(1, KindRead, "k", v, "", false, OK, t+30, t+40))
	}
	return h
}

func TestCheckLockDirect(t *testing.T) {
	cases := []struct {
		name    string
		history []Op
		wantErr error
	}{
		{"in turn", []Op{
			lk(0, KindAcquire, "s1", true, OK, 0, 10),
			lk(0, KindRelease, "s1", true, OK, 40, 50),
			lk(1, KindAcquire, "s2", true, OK, 45, 60),
		}, nil},
		{"overlapping holds", []Op{
			lk(0, KindAcquire, "s1", true, OK, 0, 10),
			lk(1, KindAcquire, "s2", true, OK, 20, 30),
			lk(0, KindRelease, "s1", true, OK, 40, 50),
		}, ErrTwoHolders},
		{"destroy ends a hold", []Op{
			lk(0, KindAcquire, "s1", true, OK, 0, 10),
			lk(0, KindDestroy, "s1", true, OK, 20, 30),
			lk(1, KindAcquire, "s2", true, OK, 25, 40),
		}, nil},
		{"unknown acquire is not a hold", []Op{
			lk(0, KindAcquire, "s1", false, Unknown, 0, 10),
			lk(1, KindAcquire, "s2", true, OK, 20, 30),
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckLockDirect(tc.history); !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("CheckLockDirect: %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestCheckPhantoms(t *testing.T) {
	h := []Op{
		reg(0, KindWrite, "k", "a", "", true, Unknown, 0, 10),
		reg(1, KindRead, "k", "a", "", false, OK, 20, 30),
	}
	if err := CheckPhantoms(h); err != nil {
		t.Fatal(err)
	}
	h = append(h, reg(1, KindRead, "k", "zz", "", false, OK, 40, 50))
	if err := CheckPhantoms(h); !errors.Is(err, ErrPhantomValue) {
		t.Fatalf("CheckPhantoms: %v, want ErrPhantomValue", err)
	}
}

// TestRecheck checks a saved history again (SHOAL_CHAOS_RECHECK=path of
// a history.json), writing views next to it; it skips without one.
func TestRecheck(t *testing.T) {
	path := os.Getenv("SHOAL_CHAOS_RECHECK")
	if path == "" {
		t.Skip("SHOAL_CHAOS_RECHECK names no history.json")
	}
	_, faults, h, err := LoadHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	var notes []Annotation
	for _, f := range faults {
		notes = append(notes, Annotation{Start: f.Start, End: f.End, Description: string(f.Kind) + " " + f.Server})
	}
	res, err := Check(h, 5*time.Minute, notes, func() (string, error) { return filepath.Dir(path), nil })
	for _, r := range res {
		t.Logf("%s: %d ops: %s in %v %s", r.Model, r.Ops, r.Result, r.Took, r.HTML)
	}
	if err != nil {
		t.Error(err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		want    func(Config) bool
		wantErr error
	}{
		{"defaults", nil, func(c Config) bool { return c.Duration == 45*time.Second && c.Cycles == 10 && c.Clients == 10 }, nil},
		{"long run", map[string]string{EnvDuration: "90s", EnvSeed: "42", EnvCycles: "50"},
			func(c Config) bool { return c.Duration == 90*time.Second && c.Seed == 42 && c.Cycles == 50 }, nil},
		{"bad duration", map[string]string{EnvDuration: "soon"}, nil, ErrConfig},
		{"bad seed", map[string]string{EnvSeed: "x"}, nil, ErrConfig},
		{"no clients", map[string]string{EnvClients: "0"}, nil, ErrConfig},
		{"baseline without faults", map[string]string{EnvFaults: "off"}, func(c Config) bool { return c.NoFaults }, nil},
		{"faults on", map[string]string{EnvFaults: "on"}, func(c Config) bool { return !c.NoFaults }, nil},
		{"bad faults", map[string]string{EnvFaults: "some"}, nil, ErrConfig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ConfigFromEnv(ModeConsistent, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if tc.want != nil && !tc.want(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
	if _, err := ConfigFromEnv("chaotic", func(string) (string, bool) { return "", false }); !errors.Is(err, ErrConfig) {
		t.Fatalf("mode chaotic: %v", err)
	}
}
