package mesh

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/shoalproject/shoal/sched"
)

// Chains and marks of the mesh, in the nat table.
const (
	// ChainMesh holds one rule per frontend; PREROUTING (traffic from
	// outside and from containers) and OUTPUT (the node's own) jump to it.
	ChainMesh = "SHOAL-MESH"
	// ChainPost masquerades what the mesh translated; POSTROUTING jumps
	// to it first.
	ChainPost = "SHOAL-MESH-POST"
	// chainFrontend prefixes a frontend's chain (its backends).
	chainFrontend = "SHOAL-FE-"
	// markBit marks connections the mesh translated, for ChainPost.
	markBit = "0x8000/0x8000"
	// Comment tags the jumps the mesh adds to the built-in chains.
	Comment = "shoal mesh"
)

// ErrNoIPTables means iptables (and iptables-restore) are not installed.
var ErrNoIPTables = errors.New("mesh: iptables not found")

// IPTables programs rules with iptables-restore. It is safe for
// concurrent use.
type IPTables struct {
	mu sync.Mutex
	// applied are the rules of the last Apply, whose backends that leave
	// the rotation have their unanswered connection attempts forgotten.
	applied []Rule
	// known says that applied holds this process's last Apply. Until the
	// first, the backends of the rules already in the kernel (left by an
	// agent that ran before this one) stand in for it.
	known bool
}

// Check reports whether the tools are there.
func (t *IPTables) Check() error {
	for _, bin := range []string{"iptables", "iptables-restore"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%w: %s", ErrNoIPTables, bin)
		}
	}
	return nil
}

// chainName is the frontend's chain: the prefix and 16 hex of a hash of
// its key (iptables allows 28 characters).
func chainName(f Frontend) string {
	sum := sha256.Sum256([]byte(f.Key()))
	return chainFrontend + strings.ToUpper(hex.EncodeToString(sum[:])[:16])
}

// Render returns the iptables-restore input (nat table, --noflush) that
// makes the mesh's chains hold exactly rules, and removes the frontend
// chains of existing that no rule needs. Pure.
func Render(rules []Rule, existing []string) string {
	var b strings.Builder
	b.WriteString("*nat\n")
	fmt.Fprintf(&b, ":%s - [0:0]\n:%s - [0:0]\n", ChainMesh, ChainPost)
	want := map[string]bool{}
	for _, r := range rules {
		want[chainName(r.Frontend)] = true
	}
	for _, r := range rules {
		fmt.Fprintf(&b, ":%s - [0:0]\n", chainName(r.Frontend))
	}
	var stale []string
	for _, c := range existing {
		if strings.HasPrefix(c, chainFrontend) && !want[c] {
			stale = append(stale, c)
			fmt.Fprintf(&b, ":%s - [0:0]\n", c)
		}
	}
	fmt.Fprintf(&b, "-A %s -m mark --mark %s -j MASQUERADE\n", ChainPost, markBit)
	for _, r := range rules {
		chain := chainName(r.Frontend)
		proto := string(r.Protocol)
		comment := fmt.Sprintf(`-m comment --comment "%s %s"`, r.Service, r.Key())
		if r.VIP.IsValid() {
			fmt.Fprintf(&b, "-A %s -d %s/32 -p %s -m %s --dport %d %s -j %s\n", ChainMesh, r.VIP, proto, proto, r.Port, comment, chain)
		} else {
			fmt.Fprintf(&b, "-A %s -p %s -m addrtype --dst-type LOCAL -m %s --dport %d %s -j %s\n", ChainMesh, proto, proto, r.Port, comment, chain)
		}
		if len(r.Backends) == 0 {
			continue
		}
		fmt.Fprintf(&b, "-A %s -j MARK --set-xmark %s\n", chain, markBit)
		n := len(r.Backends)
		for i, be := range r.Backends {
			if i < n-1 {
				// Each rule takes 1/(remaining) of what reaches it, so
				// every backend gets 1/n.
				p := strconv.FormatFloat(1/float64(n-i), 'f', 10, 64)
				fmt.Fprintf(&b, "-A %s -p %s -m statistic --mode random --probability %s -j DNAT --to-destination %s\n", chain, proto, p, be)
			} else {
				fmt.Fprintf(&b, "-A %s -p %s -j DNAT --to-destination %s\n", chain, proto, be)
			}
		}
	}
	for _, c := range stale {
		fmt.Fprintf(&b, "-X %s\n", c)
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// jumps are the rules in built-in chains that lead to the mesh's.
func jumps() [][]string {
	c := []string{"-m", "comment", "--comment", Comment}
	return [][]string{
		append([]string{"PREROUTING", "-j", ChainMesh}, c...),
		append([]string{"OUTPUT", "-j", ChainMesh}, c...),
		append([]string{"POSTROUTING", "-j", ChainPost}, c...),
	}
}

// Apply makes the node's NAT rules exactly rules, in one
// iptables-restore transaction, then makes sure the built-in chains jump
// to the mesh's (first, before Docker's and the overlay's rules). Then it
// deletes the conntrack entries of unanswered connection attempts to the
// backends that left the rotation since the last Apply (see Departed), so
// that a client's retransmitted SYN goes to a backend still there.
func (t *IPTables) Apply(rules []Rule) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	installed, prev, err := t.previous()
	if err != nil {
		return err
	}
	if err := restore(Render(rules, userChains(installed))); err != nil {
		return err
	}
	departed := Departed(prev, rules)
	t.applied, t.known = slices.Clone(rules), true
	for _, j := range jumps() {
		check := append([]string{"-t", "nat", "-C"}, j...)
		if exec.Command("iptables", check...).Run() == nil {
			continue
		}
		ins := append([]string{"-t", "nat", "-I", j[0], "1"}, j[1:]...)
		if out, err := exec.Command("iptables", ins...).CombinedOutput(); err != nil {
			return fmt.Errorf("mesh: iptables %s: %v: %s", strings.Join(ins, " "), err, bytes.TrimSpace(out))
		}
	}
	_, err = forgetUnanswered(departed)
	return err
}

// Teardown removes every rule and chain of the mesh, then deletes the
// conntrack entries of unanswered connection attempts through them, as
// Apply does for departed backends: a client's retransmitted SYN must not
// follow an old entry to a replica that may be gone (a restarted agent
// has no rules to compare with). Idempotent.
func (t *IPTables) Teardown() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, j := range jumps() {
		del := append([]string{"-t", "nat", "-D"}, j...)
		for exec.Command("iptables", del...).Run() == nil {
		}
	}
	installed, prev, err := t.previous()
	if err != nil {
		return err
	}
	t.applied, t.known = nil, false
	var b strings.Builder
	b.WriteString("*nat\n")
	var drop []string
	for _, c := range userChains(installed) {
		if c == ChainMesh || c == ChainPost || strings.HasPrefix(c, chainFrontend) {
			drop = append(drop, c)
			fmt.Fprintf(&b, ":%s - [0:0]\n", c)
		}
	}
	if len(drop) > 0 {
		for _, c := range drop {
			fmt.Fprintf(&b, "-X %s\n", c)
		}
		b.WriteString("COMMIT\n")
		if err := restore(b.String()); err != nil {
			return err
		}
	}
	_, err = forgetUnanswered(Departed(prev, nil))
	return err
}

// previous returns the nat table's rules and the mesh's rules before this
// change: the last Apply's, or, before this process's first, those an
// earlier agent left in the kernel. t.mu is held.
func (t *IPTables) previous() (installed string, prev []Rule, err error) {
	installed, err = natRules()
	if err != nil {
		return "", nil, err
	}
	if !t.known {
		return installed, Installed(installed), nil
	}
	return installed, t.applied, nil
}

// natRules returns the nat table's rules as `iptables -t nat -S` prints
// them.
func natRules() (string, error) {
	out, err := exec.Command("iptables", "-t", "nat", "-S").Output()
	if err != nil {
		return "", fmt.Errorf("mesh: iptables -t nat -S: %w", err)
	}
	return string(out), nil
}

// userChains lists the user chains of rules (`iptables -S` output).
func userChains(rules string) []string {
	var cs []string
	for _, line := range strings.Split(rules, "\n") {
		if c, ok := strings.CutPrefix(line, "-N "); ok {
			cs = append(cs, strings.TrimSpace(c))
		}
	}
	return cs
}

// Installed returns the backends of the mesh's frontend chains in rules
// (`iptables -t nat -S` output), one Rule per DNAT rule with only its
// protocol and backend set: what an earlier agent left in the kernel, for
// Departed. Lines it cannot read are skipped. Pure.
func Installed(rules string) []Rule {
	var out []Rule
	for _, line := range strings.Split(rules, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "-A" || !strings.HasPrefix(f[1], chainFrontend) {
			continue
		}
		var proto sched.Protocol
		var backend netip.AddrPort
		for i := 2; i+1 < len(f); i++ {
			switch f[i] {
			case "-p":
				proto = sched.Protocol(f[i+1])
			case "--to-destination":
				backend, _ = netip.ParseAddrPort(f[i+1])
			}
		}
		if proto == "" || !backend.IsValid() {
			continue
		}
		out = append(out, Rule{Frontend: Frontend{Protocol: proto}, Backends: []netip.AddrPort{backend}})
	}
	return out
}

func restore(input string) error {
	cmd := exec.Command("iptables-restore", "--noflush")
	cmd.Stdin = strings.NewReader(input)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mesh: iptables-restore: %v: %s\ninput:\n%s", err, bytes.TrimSpace(out), input)
	}
	return nil
}
