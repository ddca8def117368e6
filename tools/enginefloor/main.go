// Command enginefloor measures how fast the Docker engines of a hostlab
// cluster (internal/hostlab, as tools/schedtime builds it) start
// containers, the floor under the scheduler's scale-up: per round, n
// containers of the FROM-scratch hello image are started on every engine
// at once (n at a time per engine), and the time until the last start
// returned is printed, for
//
//   - raw:    ContainerCreate + ContainerStart with the options the docker
//     driver gives a replica on the overlay network (no Shoal code in the
//     path)
//   - driver: the docker driver's Start (driver/docker), Shoal's own path
//     minus the realiser
//
// The containers carry a shoal.node label no agent has, so the agents
// leave them alone. It needs what schedtime needs (root, iproute2,
// nsenter, dockerd).
//
//	go build -o /tmp/shoal . && go run ./tools/enginefloor -bin /tmp/shoal -n 3
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/shoalproject/shoal/driver"
	"github.com/shoalproject/shoal/driver/docker"
	"github.com/shoalproject/shoal/internal/hostlab"
	"github.com/shoalproject/shoal/sched"
)

const (
	image   = "shoal-test/hello:1"
	overlay = "shoal" // the agent's overlay network on each engine
	node    = "enginefloor"
)

func main() {
	bin := flag.String("bin", "", "path to the shoal binary (required)")
	rounds := flag.Int("n", 3, "rounds")
	per := flag.Int("per", 9, "containers per engine and round")
	net := flag.Int("net", 91, "lab network 10.<net>.0.0/24")
	modes := flag.String("modes", "raw,driver", "comma-separated: raw, raw-bridge, raw-none, driver")
	conc := flag.Int("conc", 0, "starts in flight per engine; 0 means all of -per")
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "enginefloor: -bin is required")
		os.Exit(2)
	}
	if err := run(*bin, *rounds, *per, *conc, *net, strings.Split(*modes, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "enginefloor:", err)
		os.Exit(1)
	}
}

func run(bin string, rounds, per, conc, net int, modes []string) error {
	if conc <= 0 {
		conc = per
	}
	dir, err := os.MkdirTemp("", "shoal-enginefloor-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	c, err := hostlab.New(hostlab.Config{Bin: bin, Dir: dir, Prefix: fmt.Sprintf("ef%d", os.Getpid()%1000), Net: net, Image: image})
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := context.Background()
	var clis []*client.Client
	var drvs []*docker.Driver
	for _, h := range c.Hosts {
		cli, err := client.New(client.WithHost(h.Engine.Sock))
		if err != nil {
			return err
		}
		defer cli.Close()
		d, err := docker.New(nil, docker.Options{Host: h.Engine.Sock, Node: node})
		if err != nil {
			return err
		}
		defer d.Close()
		clis, drvs = append(clis, cli), append(drvs, d)
	}
	// The agents create the overlay network once they have a subnet.
	dns := map[int]string{}
	deadline := time.Now().Add(time.Minute)
	for i, cli := range clis {
		for {
			n, err := cli.NetworkInspect(ctx, overlay, client.NetworkInspectOptions{})
			if err == nil && len(n.Network.IPAM.Config) > 0 {
				dns[i] = n.Network.IPAM.Config[0].Gateway.String()
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("no overlay network on engine %d: %v", i, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	times := map[string][]time.Duration{}
	for r := 1; r <= rounds; r++ {
		for _, mode := range modes {
			var wg sync.WaitGroup
			errs := make(chan error, per*len(clis))
			start := time.Now()
			for e := range clis {
				sem := make(chan struct{}, conc)
				for k := range per {
					wg.Add(1)
					go func() {
						defer wg.Done()
						sem <- struct{}{}
						defer func() { <-sem }()
						name := fmt.Sprintf("floor-%s-%d-%d-%d", mode, r, e, k)
						switch mode {
						case "raw":
							errs <- rawStart(ctx, clis[e], name, overlay, dns[e])
						case "raw-bridge":
							errs <- rawStart(ctx, clis[e], name, "bridge", "")
						case "raw-none":
							errs <- rawStart(ctx, clis[e], name, "none", "")
						case "driver":
							_, err := drvs[e].Start(ctx, task(name, dns[e]))
							errs <- err
						default:
							errs <- fmt.Errorf("unknown mode %q", mode)
						}
					}()
				}
			}
			wg.Wait()
			took := time.Since(start)
			close(errs)
			for err := range errs {
				if err != nil {
					return err
				}
			}
			times[mode] = append(times[mode], took)
			c, st := phases.take()
			fmt.Printf("round %d: %s %d×%d started in %.2fs (mean create %v, start %v)\n", r, mode, len(clis), per, took.Seconds(),
				c.Round(time.Millisecond), st.Round(time.Millisecond))
			if err := removeAll(ctx, clis); err != nil {
				return err
			}
		}
	}
	fmt.Println("mode    median [min–max] seconds")
	for _, mode := range modes {
		ts := slices.Clone(times[mode])
		slices.Sort(ts)
		fmt.Printf("%-7s %.2f [%.2f–%.2f] (%d runs)\n", mode, ts[len(ts)/2].Seconds(), ts[0].Seconds(), ts[len(ts)-1].Seconds(), len(ts))
	}
	return nil
}

// task is a replica as schedtime's spec makes it (overlay network, one
// port, 50 MHz, 32 MB).
func task(name, dns string) *driver.Task {
	return &driver.Task{AllocID: name, Service: name, Version: "1", Network: overlay, DNS: []string{dns},
		Spec: &sched.Spec{Name: "floor", Image: image, Pull: sched.PullIfNotPresent, Network: sched.NetworkOverlay,
			Env: map[string]string{"VERSION": "1"}, Resources: sched.Resources{CPU: 50, MemoryMB: 32}},
		Ports: []sched.Port{{Name: "http", Container: 8080, Protocol: sched.ProtocolTCP}}}
}

// rawStart creates and starts a container with the options the driver
// gives task(name, dns) (driver/docker createOptions).
func rawStart(ctx context.Context, cli *client.Client, name, netMode, dns string) error {
	t0 := time.Now()
	port, _ := network.PortFrom(8080, network.TCP)
	var servers []netip.Addr
	if dns != "" {
		servers = []netip.Addr{netip.MustParseAddr(dns)}
	}
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name,
		Config: &container.Config{Image: image, Env: []string{"VERSION=1"}, ExposedPorts: network.PortSet{port: {}},
			Labels: map[string]string{docker.LabelAlloc: name, docker.LabelService: "floor", docker.LabelIndex: "0",
				docker.LabelVersion: "1", docker.LabelNode: node}},
		HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(netMode), DNS: servers,
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
			Resources:     container.Resources{Memory: 32 << 20, MemorySwap: 32 << 20, CPUShares: 50}},
	})
	if err != nil {
		return err
	}
	t1 := time.Now()
	_, err = cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{})
	phases.add(t1.Sub(t0), time.Since(t1))
	return err
}

// phases sums the create and start calls of the raw modes.
var phases stats

type stats struct {
	mu             sync.Mutex
	n              int
	create, starts time.Duration
}

func (s *stats) add(create, start time.Duration) {
	s.mu.Lock()
	s.n++
	s.create += create
	s.starts += start
	s.mu.Unlock()
}

// take returns the mean create and start call and resets.
func (s *stats) take() (time.Duration, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return 0, 0
	}
	c, st := s.create/time.Duration(s.n), s.starts/time.Duration(s.n)
	s.n, s.create, s.starts = 0, 0, 0
	return c, st
}

// removeAll removes this tool's containers from every engine.
func removeAll(ctx context.Context, clis []*client.Client) error {
	for _, cli := range clis {
		res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true,
			Filters: make(client.Filters).Add("label", docker.LabelNode+"="+node)})
		if err != nil {
			return err
		}
		var wg sync.WaitGroup
		for _, it := range res.Items {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = cli.ContainerRemove(ctx, it.ID, client.ContainerRemoveOptions{Force: true})
			}()
		}
		wg.Wait()
	}
	return nil
}
