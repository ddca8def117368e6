package docker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// TestWatch: a container of this node's driver removed behind its back
// (docker rm -f) is reported by its allocation ID at once; another node's
// is not.
func TestWatch(t *testing.T) {
	t.Parallel()
	host := engine(t)
	mine := newDriver(t, host, Options{Node: "node-w"})
	other := newDriver(t, host, Options{Node: "node-x"})
	ctx := ctxT(t)
	task, otherTask := newTask(t, "watched", nil), newTask(t, "unwatched", nil)
	st, err := mine.Start(ctx, task)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	ost, err := other.Start(ctx, otherTask)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	type event struct{ alloc, task string }
	events := make(chan event, 16)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mine.Watch(wctx, func(alloc, task string) { events <- event{alloc, task} }) }()
	time.Sleep(200 * time.Millisecond) // the stream is open

	c, err := client.New(client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	removed := time.Now()
	for _, id := range []string{ost.ID, st.ID} {
		if _, err := c.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case e := <-events:
		if e.alloc != task.AllocID || e.task != st.ID {
			t.Errorf("reported %+v, want %s's task %s (this node's)", e, task.AllocID, st.ID)
		}
		t.Logf("reported %v after the removal", time.Since(removed).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("the removal was not reported")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch returned %v after cancel, want context.Canceled", err)
	}
}
