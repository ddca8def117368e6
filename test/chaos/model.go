package chaos

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// Sentinel errors of a check; Report.Err wraps them.
var (
	// ErrNotLinearizable: porcupine found no linearization (a violation).
	ErrNotLinearizable = errors.New("chaos: history is not linearizable")
	// ErrCheckUnknown: porcupine ran out of time; the history is neither
	// proven linearizable nor shown not to be. Not a pass.
	ErrCheckUnknown = errors.New("chaos: linearizability unknown (checker timed out)")
	// ErrTwoHolders: two sessions held the lock at once (direct check).
	ErrTwoHolders = errors.New("chaos: two lock holders at once")
	// ErrPhantomValue: a read returned a value that no client wrote.
	ErrPhantomValue = errors.New("chaos: read a value nobody wrote")
)

// regInput and regOutput are a register operation for porcupine.
type regInput struct {
	Kind   Kind
	Key    string
	Value  string // written (write, CAS)
	Expect string // CAS
}

type regOutput struct {
	Value   string // read
	Result  bool   // CAS
	Unknown bool
}

// registerModel is a register per key, absent ("") at first. An operation
// of unknown outcome leads to both states: applied and not.
var registerModel = porcupine.NondeterministicModel{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(regInput).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		sort.Strings(keys)
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() []interface{} { return []interface{}{""} },
	Step: func(state, input, output interface{}) []interface{} {
		st, in, out := state.(string), input.(regInput), output.(regOutput)
		switch in.Kind {
		case KindRead:
			if out.Value == st {
				return []interface{}{st}
			}
			return nil
		case KindWrite:
			if out.Unknown {
				return []interface{}{st, in.Value}
			}
			return []interface{}{in.Value}
		case KindCAS:
			switch {
			case out.Unknown && st == in.Expect:
				return []interface{}{st, in.Value}
			case out.Unknown:
				return []interface{}{st}
			case out.Result && st == in.Expect:
				return []interface{}{in.Value}
			case !out.Result:
				// A refused CAS changed nothing. That it was refused is
				// not checked (state != Expect), which lets toPorcupine
				// drop unknown writes that nobody observed; see there.
				return []interface{}{st}
			}
			return nil
		}
		panic(fmt.Sprintf("chaos: register model: kind %q", in.Kind))
	},
	Equal: func(a, b interface{}) bool { return a == b },
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(regInput), output.(regOutput)
		res := fmt.Sprint(out.Result)
		if out.Unknown {
			res = "?"
		}
		switch in.Kind {
		case KindRead:
			return fmt.Sprintf("read() -> %s", show(out.Value))
		case KindWrite:
			if out.Unknown {
				return fmt.Sprintf("write(%s) -> ?", in.Value)
			}
			return fmt.Sprintf("write(%s)", in.Value)
		default:
			return fmt.Sprintf("cas(%s, %s) -> %s", show(in.Expect), in.Value, res)
		}
	},
	DescribeState: func(state interface{}) string { return show(state.(string)) },
}

// lockInput and lockOutput are a lock operation for porcupine; a read of
// the lock key (Kind read) returns the holder.
type lockInput struct {
	Kind    Kind
	Session string
}

type lockOutput struct {
	Result  bool
	Holder  string // read
	Unknown bool
}

// lockModel is a mutex held by at most one session ("" = free), with
// Consul's semantics: the holder may acquire again; only the holder
// releases. Two successful acquires by different sessions without a
// release between them have no linearization.
var lockModel = porcupine.NondeterministicModel{
	Init: func() []interface{} { return []interface{}{""} },
	Step: func(state, input, output interface{}) []interface{} {
		holder, in, out := state.(string), input.(lockInput), output.(lockOutput)
		switch in.Kind {
		case KindRead:
			if out.Holder == holder {
				return []interface{}{holder}
			}
			return nil
		case KindAcquire:
			can := holder == "" || holder == in.Session
			switch {
			case out.Unknown && can:
				return []interface{}{holder, in.Session}
			case out.Unknown, !out.Result && !can:
				return []interface{}{holder}
			case out.Result && can:
				return []interface{}{in.Session}
			}
			return nil
		case KindDestroy:
			// Frees the lock if the session held it; always answers true.
			after := holder
			if holder == in.Session {
				after = ""
			}
			if out.Unknown {
				return []interface{}{holder, after}
			}
			return []interface{}{after}
		case KindRelease:
			mine := holder == in.Session
			switch {
			case out.Unknown && mine:
				return []interface{}{holder, ""}
			case out.Unknown, !out.Result && !mine:
				return []interface{}{holder}
			case out.Result && mine:
				return []interface{}{""}
			}
			return nil
		}
		panic(fmt.Sprintf("chaos: lock model: kind %q", in.Kind))
	},
	Equal: func(a, b interface{}) bool { return a == b },
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(lockInput), output.(lockOutput)
		res := fmt.Sprint(out.Result)
		if out.Unknown {
			res = "?"
		}
		if in.Kind == KindRead {
			return fmt.Sprintf("holder() -> %s", show(out.Holder))
		}
		return fmt.Sprintf("%s(%s) -> %s", in.Kind, short(in.Session), res)
	},
	DescribeState: func(state interface{}) string { return show(short(state.(string))) },
}

func show(v string) string {
	if v == "" {
		return "∅"
	}
	return v
}

func short(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

// toPorcupine turns the checked, not-failed operations of h, those of the
// lock or those of the registers, into porcupine operations; an Unknown
// one returns after everything else ("at infinity").
//
// A register write or CAS of unknown outcome whose value no read and no
// CAS observed is left out: it can always be placed at infinity, after
// everything, where it changes nothing observed, and every such operation
// kept open doubles the checker's search (each of them may or may not
// have happened at every point). This is sound because the register model
// does not check refused CASes (the one thing an unobserved write could
// explain).
func toPorcupine(h []Op, lock bool) []porcupine.Operation {
	var end time.Duration
	observed := map[string]bool{}
	for _, op := range h {
		if op.Return > end {
			end = op.Return
		}
		switch {
		case op.Kind == KindRead && op.Outcome == OK:
			observed[op.Key+"\x00"+op.Value] = true
		case op.Kind == KindCAS:
			observed[op.Key+"\x00"+op.Expect] = true
		}
	}
	infinity := end + time.Second
	var out []porcupine.Operation
	for _, op := range h {
		isLock := op.Kind == KindAcquire || op.Kind == KindRelease || op.Kind == KindDestroy || (op.Kind == KindRead && op.Key == lockKeyMarker)
		if isLock != lock || op.Outcome == Failed || (op.Kind == KindRead && (op.Outcome != OK || !op.Checked)) {
			continue
		}
		if !lock && op.Outcome == Unknown && !observed[op.Key+"\x00"+op.Value] {
			continue
		}
		ret := op.Return
		if op.Outcome == Unknown {
			ret = infinity
		}
		p := porcupine.Operation{ClientId: op.Process, Call: int64(op.Call), Return: int64(ret)}
		unknown := op.Outcome == Unknown
		if lock {
			p.Input = lockInput{Kind: op.Kind, Session: op.Session}
			p.Output = lockOutput{Result: op.Result, Holder: op.Value, Unknown: unknown}
		} else {
			p.Input = regInput{Kind: op.Kind, Key: op.Key, Value: op.Value, Expect: op.Expect}
			p.Output = regOutput{Value: op.Value, Result: op.Result, Unknown: unknown}
		}
		out = append(out, p)
	}
	return out
}

// lockKeyMarker is the Key of lock-key reads in a history.
const lockKeyMarker = "\x00lock"

// CheckResult is the outcome of checking one model.
type CheckResult struct {
	Model  string
	Ops    int
	Result porcupine.CheckResult
	Took   time.Duration
	// HTML is the path of the visualization, written for Illegal and
	// Unknown results.
	HTML string
}

// Annotation marks a fault on the visualization's timeline.
type Annotation struct {
	Start, End  time.Duration
	Description string
}

// Check checks h against the register and lock models. outDir returns
// the directory for visualizations (made on first use).
func Check(h []Op, timeout time.Duration, notes []Annotation, outDir func() (string, error)) ([]CheckResult, error) {
	models := []struct {
		name  string
		model porcupine.Model
		lock  bool
	}{
		{"register", registerModel.ToModel(), false},
		{"lock", lockModel.ToModel(), true},
	}
	var res []CheckResult
	var errs []error
	for _, m := range models {
		ops := toPorcupine(h, m.lock)
		start := time.Now()
		r, info := porcupine.CheckOperationsVerbose(m.model, ops, timeout)
		cr := CheckResult{Model: m.name, Ops: len(ops), Result: r, Took: time.Since(start)}
		if r != porcupine.Ok {
			if r == porcupine.Illegal {
				errs = append(errs, fmt.Errorf("%w: %s model", ErrNotLinearizable, m.name))
			} else {
				errs = append(errs, fmt.Errorf("%w: %s model after %v", ErrCheckUnknown, m.name, timeout))
			}
			var ann []porcupine.Annotation
			for _, n := range notes {
				ann = append(ann, porcupine.Annotation{Tag: "nemesis", Start: int64(n.Start), End: int64(n.End),
					Description: n.Description, BackgroundColor: "#ffd8a8"})
			}
			info.AddAnnotations(ann)
			if dir, err := outDir(); err != nil {
				errs = append(errs, err)
			} else {
				cr.HTML = filepath.Join(dir, m.name+".html")
				if err := porcupine.VisualizePath(m.model, info, cr.HTML); err != nil {
					errs = append(errs, fmt.Errorf("chaos: visualize: %w", err))
				}
			}
		}
		res = append(res, cr)
	}
	return res, errors.Join(errs...)
}

// CheckLockDirect is the plain check of the lock: a session surely holds
// the lock from the return of its successful acquire to the call of its
// next release or destroy (or the end); two such intervals of different
// sessions must not overlap. (A lock client abandons its session after
// any unknown outcome, so no operation of its own still in flight can
// free the lock during such an interval.)
func CheckLockDirect(h []Op) error {
	type hold struct {
		session    string
		from, till time.Duration
	}
	var end time.Duration
	bySession := map[string][]Op{}
	for _, op := range h {
		if op.Return > end {
			end = op.Return
		}
		if op.Kind == KindAcquire || op.Kind == KindRelease || op.Kind == KindDestroy {
			bySession[op.Session] = append(bySession[op.Session], op)
		}
	}
	var holds []hold
	for s, ops := range bySession {
		sort.Slice(ops, func(i, j int) bool { return ops[i].Call < ops[j].Call })
		for i, op := range ops {
			if op.Kind != KindAcquire || op.Outcome != OK || !op.Result {
				continue
			}
			h := hold{session: s, from: op.Return, till: end}
			for _, next := range ops[i+1:] {
				if next.Kind == KindRelease || next.Kind == KindDestroy {
					h.till = next.Call
					break
				}
			}
			holds = append(holds, h)
		}
	}
	sort.Slice(holds, func(i, j int) bool { return holds[i].from < holds[j].from })
	var errs []string
	for i := range holds {
		for j := i + 1; j < len(holds) && holds[j].from < holds[i].till; j++ {
			if holds[j].session != holds[i].session {
				errs = append(errs, fmt.Sprintf("%s held [%v, %v] and %s held [%v, %v]",
					short(holds[i].session), holds[i].from, holds[i].till, short(holds[j].session), holds[j].from, holds[j].till))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrTwoHolders, strings.Join(errs, "; "))
	}
	return nil
}

// CheckPhantoms reports reads (checked or not) of a value that no write
// or CAS ever sent.
func CheckPhantoms(h []Op) error {
	sent := map[string]bool{"": true}
	for _, op := range h {
		if op.Kind == KindWrite || op.Kind == KindCAS {
			sent[op.Value] = true
		}
	}
	var bad []string
	for _, op := range h {
		if op.Kind == KindRead && op.Outcome == OK && op.Key != lockKeyMarker && !sent[op.Value] {
			bad = append(bad, fmt.Sprintf("%s=%q at %v", op.Key, op.Value, op.Call))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", ErrPhantomValue, strings.Join(bad, ", "))
	}
	return nil
}

// writeFile writes data to dir/name.
func writeFile(dir, name string, data []byte) (string, error) {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return "", fmt.Errorf("chaos: %w", err)
	}
	return p, nil
}
