package sched

import (
	"fmt"
	"slices"
	"testing"
)

// TestEvaluateHistory checks which spec writes become history entries and
// that the history keeps only the newest HistoryLimit versions.
func TestEvaluateHistory(t *testing.T) {
	v1 := specDoc("web", 2)
	tests := []struct {
		name  string
		limit int
		docs  [][]byte
		// want lists the replicas of each recorded version, oldest first,
		// and their Seqs.
		want     []int
		wantSeqs []uint64
	}{
		{name: "first deploy", docs: [][]byte{v1}, want: []int{2}, wantSeqs: []uint64{1}},
		{name: "scaling is a new version", docs: [][]byte{v1, specDoc("web", 3)}, want: []int{2, 3}, wantSeqs: []uint64{1, 2}},
		{name: "same spec written again is not", docs: [][]byte{v1, []byte(" " + string(v1) + "\n")}, want: []int{2}, wantSeqs: []uint64{1}},
		{name: "a change that moves nothing is",
			docs: [][]byte{v1, specDoc("web", 2, `"update": {"parallelism": 2}`)}, want: []int{2, 2}, wantSeqs: []uint64{1, 2}},
		{name: "a rejected spec is not",
			docs: [][]byte{v1, specDoc("web", 2, `"strategy": "fastest"`), v1}, want: []int{2}, wantSeqs: []uint64{1}},
		{name: "going back is a new entry",
			docs: [][]byte{v1, specDoc("web", 4), v1}, want: []int{2, 4, 2}, wantSeqs: []uint64{1, 2, 3}},
		{name: "bounded by the limit", limit: 3,
			docs: [][]byte{v1, specDoc("web", 3), specDoc("web", 4), specDoc("web", 5), specDoc("web", 6)},
			want: []int{4, 5, 6}, wantSeqs: []uint64{3, 4, 5}},
		{name: "default limit", docs: func() [][]byte {
			var out [][]byte
			for n := 1; n <= DefaultHistoryLimit+3; n++ {
				out = append(out, specDoc("web", n))
			}
			return out
		}(), want: []int{4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, wantSeqs: []uint64{4, 5, 6, 7, 8, 9, 10, 11, 12, 13}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHarness(t, testNodes(3)...)
			h.HistoryLimit = tc.limit
			for _, doc := range tc.docs {
				h.PutSpec("web", doc)
				h.converge()
			}
			var got []int
			var seqs []uint64
			for _, e := range h.history["web"] {
				s := mustParse(t, e.Spec)
				got = append(got, s.Count())
				seqs = append(seqs, e.Seq)
				if e.Version != s.Version() || e.Digest != s.Digest() {
					t.Errorf("entry %d: version %s digest %s, want %s %s", e.Seq, e.Version, e.Digest, s.Version(), s.Digest())
				}
			}
			if !slices.Equal(got, tc.want) || !slices.Equal(seqs, tc.wantSeqs) {
				t.Errorf("history replicas %v seqs %v, want %v %v", got, seqs, tc.want, tc.wantSeqs)
			}
			if ev := h.Evaluate(); len(ev.Submitted) != 0 {
				t.Errorf("a settled service still submits %d plans", len(ev.Submitted))
			}
		})
	}
}

// TestHistoryAppend checks the FSM's step on its own: dedup against the
// newest entry and the trim.
func TestHistoryAppend(t *testing.T) {
	hist := func(n int) []HistoryEntry {
		var out []HistoryEntry
		for i := 1; i <= n; i++ {
			out = append(out, HistoryEntry{Seq: uint64(i + 10), Digest: fmt.Sprint(i)})
		}
		return out
	}
	tests := []struct {
		name     string
		hist     []HistoryEntry
		rec      HistoryRecord
		wantSeq  uint64 // 0: nothing added
		wantDrop []uint64
	}{
		{name: "empty", rec: HistoryRecord{Digest: "a", Keep: 10}, wantSeq: 1},
		{name: "newest again", hist: hist(3), rec: HistoryRecord{Digest: "3", Keep: 10}},
		{name: "older again", hist: hist(3), rec: HistoryRecord{Digest: "1", Keep: 10}, wantSeq: 14},
		{name: "full", hist: hist(3), rec: HistoryRecord{Digest: "x", Keep: 3}, wantSeq: 14, wantDrop: []uint64{11}},
		{name: "over full after a smaller keep", hist: hist(5), rec: HistoryRecord{Digest: "x", Keep: 2}, wantSeq: 16, wantDrop: []uint64{11, 12, 13, 14}},
		{name: "keep below one keeps one", hist: hist(2), rec: HistoryRecord{Digest: "x"}, wantSeq: 13, wantDrop: []uint64{11, 12}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			add, drop := tc.rec.Append(tc.hist)
			var seq uint64
			if add != nil {
				seq = add.Seq
			}
			if seq != tc.wantSeq || !slices.Equal(drop, tc.wantDrop) {
				t.Errorf("added seq %d, dropped %v; want %d, %v", seq, drop, tc.wantSeq, tc.wantDrop)
			}
		})
	}
}
