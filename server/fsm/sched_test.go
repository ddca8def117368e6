package fsm

import (
	"testing"

	"github.com/shoalproject/shoal/allocs"
	"github.com/shoalproject/shoal/sched"
)

// TestPlanBatchIsAllOrNothing checks that a batch of plans is one
// transaction: applied whole, or (when one plan is refused) not at all, so
// the leader can commit the plans again one by one.
func TestPlanBatchIsAllOrNothing(t *testing.T) {
	alloc := func(id, service string) *sched.Alloc {
		return &sched.Alloc{Allocation: sched.Allocation{ID: id, Service: service, NodeID: "n1", DesiredStatus: sched.DesiredRun}}
	}
	tests := []struct {
		name    string
		plans   []*sched.PlanRequest
		wantErr bool
		want    int // allocations stored after the batch
	}{
		{name: "every plan applies", plans: []*sched.PlanRequest{
			{Service: "a", Place: []*sched.Alloc{alloc("a1", "a"), alloc("a2", "a")}},
			{Service: "b", Place: []*sched.Alloc{alloc("b1", "b")}},
		}, want: 3},
		{name: "the second plan is refused", plans: []*sched.PlanRequest{
			{Service: "a", Place: []*sched.Alloc{alloc("a1", "a"), alloc("a2", "a")}},
			{Service: "b", Place: []*sched.Alloc{alloc("a1", "b")}}, // an ID the first placed
		}, wantErr: true, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFSM(t)
			res := apply(t, f, 7, AllocPlanBatchRequestType, &PlanBatch{Plans: tc.plans})
			if _, isErr := res.(error); isErr != tc.wantErr {
				t.Fatalf("apply = %v, want an error: %v", res, tc.wantErr)
			}
			tx := f.State().ReadTxn()
			defer tx.Abort()
			_, all, err := allocs.All(tx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != tc.want {
				t.Fatalf("%d allocations stored, want %d", len(all), tc.want)
			}
			for _, a := range all {
				if a.CreateIndex != 7 {
					t.Fatalf("allocation %s created at %d, want the batch's index 7", a.ID, a.CreateIndex)
				}
			}
		})
	}
}
