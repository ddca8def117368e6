// Command overlaybench compares TCP throughput over the overlay with the
// underlay between two emulated hosts. It builds a lab of network
// namespaces (internal/netlab), runs a shoal server on each host with the
// overlay on, attaches a namespace "container" to each host's overlay
// bridge, then streams data for -seconds: host 1 → host 2 on the underlay,
// and container 1 → container 2 over VXLAN; -n rounds, alternating. It
// prints each round and the medians. Needs root.
//
// With -pin (the default) the sender runs on CPU 0 and the receiver on CPU
// 1, for both paths: the emulated hosts share this machine's CPUs, and
// without pinning the scheduler often puts both ends on one CPU, which two
// real hosts never do. -pin=false leaves the placement to the scheduler.
//
//	go build -o /tmp/shoal . && go run ./tools/overlaybench -bin /tmp/shoal
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shoalproject/shoal/internal/netlab"
	"github.com/shoalproject/shoal/internal/proccluster"
)

func main() {
	bin := flag.String("bin", "", "path to the shoal binary (required)")
	rounds := flag.Int("n", 5, "rounds of each measurement")
	secs := flag.Float64("seconds", 3, "duration of each stream")
	tool := flag.String("tool", "iperf3", `"iperf3" (iperf3 -c/-s in the namespaces) or "go" (a TCP stream in this process; noisier)`)
	flag.BoolVar(&pin, "pin", true, "run the sender on CPU 0 and the receiver on CPU 1")
	flag.Parse()
	if pin && runtime.NumCPU() < 2 {
		fmt.Fprintln(os.Stderr, "overlaybench: -pin needs two CPUs; this machine has one (use -pin=false)")
		os.Exit(2)
	}
	switch *tool {
	case "iperf3":
		if _, err := exec.LookPath("iperf3"); err != nil {
			fmt.Fprintln(os.Stderr, "overlaybench: iperf3 not found: install it (apt-get install -y iperf3) or use -tool go")
			os.Exit(2)
		}
		measure = iperf3
	case "go":
		measure = stream
	default:
		fmt.Fprintf(os.Stderr, "overlaybench: -tool %q: want iperf3 or go\n", *tool)
		os.Exit(2)
	}
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "overlaybench: -bin is required")
		os.Exit(2)
	}
	if err := run(*bin, *rounds, time.Duration(*secs*float64(time.Second))); err != nil {
		fmt.Fprintln(os.Stderr, "overlaybench:", err)
		os.Exit(1)
	}
}

func run(bin string, rounds int, dur time.Duration) error {
	lab, err := netlab.New(fmt.Sprintf("b%d", os.Getpid()%10000), 80, 2)
	if err != nil {
		return err
	}
	defer lab.Close()
	dir, err := os.MkdirTemp("", "shoal-overlaybench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ports := proccluster.Ports{HTTP: 8500, Serf: 8301, Server: 8300}
	procs := proccluster.ServersOn(bin, dir, []string{lab.Hosts[0].Addr, lab.Hosts[1].Addr},
		[][]string{lab.Hosts[0].Wrap(), lab.Hosts[1].Wrap()}, ports)
	defer func() {
		for _, p := range procs {
			p.Kill9()
		}
	}()
	for _, p := range procs {
		if err := p.Start(); err != nil {
			return err
		}
	}
	subnets, err := waitLeases(procs[0], 2, time.Minute)
	if err != nil {
		return err
	}
	var ctrs []*netlab.Container
	for i, h := range lab.Hosts {
		sub := subnets[procs[i].Name]
		a := sub.Addr().As4()
		a[3] = 10
		c, err := h.AddContainer(fmt.Sprintf("c%d", i+1), "shoal0", netip.AddrFrom4(a).String(), sub.Bits(),
			sub.Addr().Next().String())
		if err != nil {
			return err
		}
		ctrs = append(ctrs, c)
	}
	var under, over []float64
	for r := 1; r <= rounds; r++ {
		u, err := measure(lab.Hosts[0].NS, lab.Hosts[1].NS, lab.Hosts[1].Addr, dur)
		if err != nil {
			return fmt.Errorf("underlay: %w", err)
		}
		o, err := measure(ctrs[0].NS, ctrs[1].NS, ctrs[1].Addr, dur)
		if err != nil {
			return fmt.Errorf("overlay: %w", err)
		}
		fmt.Printf("round %d: underlay %.0f Mbit/s, overlay %.0f Mbit/s (%.0f%%)\n", r, u, o, 100*o/u)
		under, over = append(under, u), append(over, o)
	}
	mu, mo := median(under), median(over)
	fmt.Printf("median of %d rounds: underlay %.0f Mbit/s, overlay %.0f Mbit/s: overlay at %.0f%% of underlay\n",
		rounds, mu, mo, 100*mo/mu)
	return nil
}

// measure is the throughput measurement in use (iperf3 or stream).
var measure = iperf3

// pin puts the sender on CPU 0 and the receiver on CPU 1.
var pin bool

// pinThread binds the calling goroutine, and the OS thread it is locked
// to for good (the thread exits with the goroutine), to one CPU.
func pinThread(cpu int) error {
	runtime.LockOSThread()
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("pin to CPU %d: %w", cpu, err)
	}
	return nil
}

// iperf3 runs an iperf3 server in namespace to and a client in from, and
// returns the received rate in Mbit/s.
func iperf3(from, to, addr string, dur time.Duration) (float64, error) {
	var srvPin, cliPin []string
	if pin {
		srvPin, cliPin = []string{"-A", "1"}, []string{"-A", "0"}
	}
	srv := exec.Command("nsenter", append([]string{"--net=/var/run/netns/" + to, "iperf3", "-s", "-1", "-B", addr, "-p", "7101"}, srvPin...)...)
	if err := srv.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	time.Sleep(300 * time.Millisecond)
	out, err := exec.Command("nsenter", append([]string{"--net=/var/run/netns/" + from, "iperf3", "-c", addr, "-p", "7101",
		"-t", fmt.Sprint(int(dur.Seconds())), "-J"}, cliPin...)...).Output()
	if err != nil {
		return 0, fmt.Errorf("iperf3: %v %s", err, out)
	}
	var res struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return 0, err
	}
	return res.End.SumReceived.BitsPerSecond / 1e6, nil
}

// stream sends zeros for dur from a socket in namespace from to a
// listener in namespace to, and returns the receiver's rate in Mbit/s.
func stream(from, to, addr string, dur time.Duration) (float64, error) {
	var ln net.Listener
	if err := netlab.InNS(to, func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort(addr, "7100"))
		return err
	}); err != nil {
		return 0, err
	}
	defer ln.Close()
	type result struct {
		n   int64
		d   time.Duration
		err error
	}
	got := make(chan result, 1)
	go func() {
		if pin {
			if err := pinThread(1); err != nil {
				got <- result{err: err}
				return
			}
		}
		c, err := ln.Accept()
		if err != nil {
			got <- result{err: err}
			return
		}
		defer c.Close()
		start := time.Now()
		n, err := io.Copy(io.Discard, c)
		got <- result{n, time.Since(start), err}
	}()
	err := netlab.InNS(from, func() error {
		if pin {
			if err := pinThread(0); err != nil {
				return err
			}
		}
		c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, "7100"), 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, 256<<10)
		ctx, cancel := context.WithTimeout(context.Background(), dur)
		defer cancel()
		for ctx.Err() == nil {
			if _, err := c.Write(buf); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	r := <-got
	if r.err != nil {
		return 0, r.err
	}
	return float64(r.n) * 8 / r.d.Seconds() / 1e6, nil
}

func waitLeases(p *proccluster.Proc, n int, timeout time.Duration) (map[string]netip.Prefix, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		code, body, err := p.Get("/v1/shoal/overlay")
		if err == nil && code == 200 {
			var ls []struct{ Node, Subnet, State string }
			if json.Unmarshal([]byte(body), &ls) == nil && len(ls) == n {
				out := map[string]netip.Prefix{}
				ok := true
				for _, l := range ls {
					ok = ok && l.State == "alive"
					out[l.Node], _ = netip.ParsePrefix(l.Subnet)
				}
				if ok {
					time.Sleep(2 * time.Second) // let routes settle
					return out, nil
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil, errors.New("overlay leases did not appear")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
