package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// row is one line of the table: a metric of a workload, per target.
type row struct {
	label string
	// higherBetter says which way the ratio reads.
	higherBetter bool
	val          func(result) float64
	format       func(float64) string
}

func ms(v float64) string   { return fmt.Sprintf("%.1f ms", v) }
func us(v float64) string   { return fmt.Sprintf("%.0f µs", v) }
func rate(v float64) string { return fmt.Sprintf("%.0f/s", v) }

func rowsFor(w workload) []row {
	dur := func(f func(result) time.Duration) func(result) float64 {
		return func(r result) float64 { return float64(f(r)) / float64(time.Millisecond) }
	}
	if w.latency {
		return []row{
			{w.name + " wake p50", false, dur(func(r result) time.Duration { return r.p50 }), ms},
			{w.name + " wake p99", false, dur(func(r result) time.Duration { return r.p99 }), ms},
		}
	}
	rows := []row{
		{w.name, true, func(r result) float64 { return r.opsPerSec }, rate},
		{w.name + " p99", false, dur(func(r result) time.Duration { return r.p99 }), ms},
	}
	if w.name == "put" || w.name == "mixed" || w.name == "get" {
		rows = append(rows,
			row{w.name + " server CPU/op", false,
				func(r result) float64 { return float64(r.cpuPerOp) / float64(time.Microsecond) }, us},
			row{w.name + " client CPU/op", false,
				func(r result) float64 { return float64(r.clientCPUPerOp) / float64(time.Microsecond) }, us})
	}
	return rows
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// printTable writes a Markdown table: each target's median over the rounds
// and Shoal's advantage over each other target, as a factor where > 1
// means Shoal is better (more per second, or less time).
func printTable(out io.Writer, ws []workload, targets []*target, res map[string]map[string][]result) {
	var others []string
	for _, t := range targets[1:] {
		others = append(others, t.name)
	}
	hdr := []string{"workload"}
	for _, t := range targets {
		hdr = append(hdr, t.name)
	}
	for _, o := range others {
		hdr = append(hdr, "shoal vs "+o)
	}
	fmt.Fprintf(out, "\n| %s |\n|%s\n", strings.Join(hdr, " | "), strings.Repeat(" --- |", len(hdr)))
	for _, w := range ws {
		for _, rw := range rowsFor(w) {
			cells := []string{rw.label}
			med := map[string]float64{}
			for _, t := range targets {
				rs := res[w.name][t.name]
				if len(rs) == 0 {
					cells = append(cells, "—")
					continue
				}
				var v []float64
				for _, r := range rs {
					v = append(v, rw.val(r))
				}
				med[t.name] = median(v)
				cells = append(cells, rw.format(med[t.name]))
			}
			for _, o := range others {
				s, okS := med["shoal"]
				x, okX := med[o]
				if !okS || !okX || s == 0 || x == 0 {
					cells = append(cells, "—")
					continue
				}
				f := s / x
				if !rw.higherBetter {
					f = x / s
				}
				cells = append(cells, fmt.Sprintf("%.2f×", f))
			}
			fmt.Fprintf(out, "| %s |\n", strings.Join(cells, " | "))
		}
	}
	fmt.Fprintln(out, "\nFactors: Shoal's median ÷ the other's for rates, the other's ÷ Shoal's for times and CPU; > 1 means Shoal is ahead.")
}
