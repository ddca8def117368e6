// Command dnsbench measures a DNS server's throughput and latency: -c
// concurrent clients, each with its own UDP socket, send one query, wait
// for its answer, and send the next, for -d. It prints queries per second
// and the p50 and p99 latencies.
//
// With -register N it first registers N passing instances of the service
// through the catalog HTTP API at -http, so that a fresh dev agent can be
// measured as is:
//
//	go build -o /tmp/shoal . && /tmp/shoal agent -dev &
//	go run ./tools/dnsbench -register 3 -c 32 -d 10s -runs 5
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8600", "DNS server (UDP)")
	name := flag.String("name", "web.service.consul.", "name to look up")
	qtype := flag.String("type", "A", "query type")
	clients := flag.Int("c", 32, "concurrent clients")
	dur := flag.Duration("d", 10*time.Second, "duration of one run")
	warmup := flag.Duration("warmup", time.Second, "unmeasured warm-up before each run")
	runs := flag.Int("runs", 1, "runs; the median run is reported too")
	expect := flag.Int("expect", -1, "answers each response must carry (-1: any, but at least one)")
	verify := flag.Bool("verify", false, "unpack every response fully instead of checking its header")
	register := flag.Int("register", 0, "register this many instances of the service first")
	httpAddr := flag.String("http", "127.0.0.1:8500", "HTTP API for -register")
	flag.Parse()

	t, ok := mdns.StringToType[strings.ToUpper(*qtype)]
	if !ok {
		fail("unknown type %q", *qtype)
	}
	fqdn := mdns.Fqdn(*name)
	if *register > 0 {
		service, _, _ := strings.Cut(fqdn, ".")
		if err := registerInstances(*httpAddr, service, *register); err != nil {
			fail("register: %v", err)
		}
		want := *register
		if *expect < 0 {
			*expect = min(want, 3) // the default udp_answer_limit without EDNS0
		}
		if err := waitAnswers(*addr, fqdn, t, *expect); err != nil {
			fail("%v", err)
		}
	}
	fmt.Printf("dnsbench: %s %s @%s, %d clients, %v per run (+%v warm-up), %d run(s)\n",
		fqdn, mdns.TypeToString[t], *addr, *clients, *dur, *warmup, *runs)
	var qpsAll []float64
	for i := 1; i <= *runs; i++ {
		res, err := run(*addr, fqdn, t, *clients, *warmup, *dur, *expect, *verify)
		if err != nil {
			fail("run %d: %v", i, err)
		}
		fmt.Printf("run %d: %.0f queries/s, p50 %v, p99 %v, %d queries, %d errors\n",
			i, res.qps, res.p50, res.p99, res.n, res.errors)
		qpsAll = append(qpsAll, res.qps)
	}
	if *runs > 1 {
		slices.Sort(qpsAll)
		fmt.Printf("median of %d runs: %.0f queries/s (min %.0f, max %.0f)\n",
			*runs, qpsAll[len(qpsAll)/2], qpsAll[0], qpsAll[len(qpsAll)-1])
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "dnsbench: "+format+"\n", args...)
	os.Exit(1)
}

type result struct {
	qps      float64
	p50, p99 time.Duration
	n        int
	errors   int64
}

// run measures one run: clients loop until the deadline, each recording
// its latencies once the warm-up has passed.
func run(addr, name string, qtype uint16, clients int, warmup, dur time.Duration, expect int, verify bool) (result, error) {
	q := new(mdns.Msg)
	q.SetQuestion(name, qtype)
	wire, err := q.Pack()
	if err != nil {
		return result{}, err
	}
	var (
		wg       sync.WaitGroup
		errs     atomic.Int64
		mu       sync.Mutex
		lat      []time.Duration
		firstErr atomic.Value
	)
	start := time.Now()
	measureFrom, stop := start.Add(warmup), start.Add(warmup+dur)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine, err := client(addr, wire, measureFrom, stop, expect, verify, &errs)
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return result{}, err
	}
	if len(lat) == 0 {
		return result{}, errors.New("no successful query")
	}
	slices.Sort(lat)
	return result{
		qps:    float64(len(lat)) / dur.Seconds(),
		p50:    lat[len(lat)/2],
		p99:    lat[len(lat)*99/100],
		n:      len(lat),
		errors: errs.Load(),
	}, nil
}

// client is one synchronous client on its own socket.
func client(addr string, query []byte, measureFrom, stop time.Time, expect int, verify bool, errs *atomic.Int64) ([]time.Duration, error) {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	q := bytes.Clone(query)
	buf := make([]byte, 65535)
	lat := make([]time.Duration, 0, 1<<16)
	id := uint16(rand.N(1 << 16))
	for {
		now := time.Now()
		if now.After(stop) {
			return lat, nil
		}
		id++
		binary.BigEndian.PutUint16(q, id)
		if _, err := conn.Write(q); err != nil {
			return lat, err
		}
		_ = conn.SetReadDeadline(now.Add(time.Second))
		for {
			n, err := conn.Read(buf)
			if err != nil {
				errs.Add(1) // a lost datagram: count it and ask again
				break
			}
			if n < 12 || binary.BigEndian.Uint16(buf) != id {
				continue // a late answer to an earlier, timed-out query
			}
			if err := check(buf[:n], expect, verify); err != nil {
				return lat, err
			}
			if done := time.Now(); now.After(measureFrom) {
				lat = append(lat, done.Sub(now))
			}
			break
		}
	}
}

// check validates a response: NOERROR and the expected answer count, from
// the header alone unless verify.
func check(resp []byte, expect int, verify bool) error {
	rcode := int(resp[3] & 0x0f)
	answers := int(binary.BigEndian.Uint16(resp[6:]))
	if verify {
		m := new(mdns.Msg)
		if err := m.Unpack(resp); err != nil {
			return fmt.Errorf("unpack: %w", err)
		}
		rcode, answers = m.Rcode, len(m.Answer)
	}
	if rcode != mdns.RcodeSuccess {
		return fmt.Errorf("rcode %s", mdns.RcodeToString[rcode])
	}
	if (expect < 0 && answers == 0) || (expect >= 0 && answers != expect) {
		return fmt.Errorf("%d answers, want %d", answers, expect)
	}
	return nil
}

// registerInstances registers n passing instances of service, each on its
// own node, through PUT /v1/catalog/register.
func registerInstances(httpAddr, service string, n int) error {
	for i := 1; i <= n; i++ {
		node := fmt.Sprintf("bench-%s-%d", service, i)
		body, _ := json.Marshal(map[string]any{
			"Node":    node,
			"Address": fmt.Sprintf("10.99.%d.%d", i/250, i%250+1),
			"Service": map[string]any{"ID": service + "-" + node, "Service": service, "Port": 8080},
			"Check": map[string]any{"CheckID": "bench-" + service, "Name": "bench", "Status": "passing",
				"ServiceID": service + "-" + node},
		})
		req, err := http.NewRequest(http.MethodPut, "http://"+httpAddr+"/v1/catalog/register", bytes.NewReader(body))
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: HTTP %s", node, resp.Status)
		}
	}
	return nil
}

// waitAnswers waits until the name answers with want records.
func waitAnswers(addr, name string, qtype uint16, want int) error {
	c := &mdns.Client{Timeout: time.Second}
	q := new(mdns.Msg)
	q.SetQuestion(name, qtype)
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, _, err := c.Exchange(q, addr)
		if err == nil && len(m.Answer) == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s never answered %d records (last: %v, err %v)", name, want, m, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
