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
	events := make(chan string, 16)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mine.Watch(wctx, func(id string) { events <- id }) }()
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
	case id := <-events:
		if id != task.AllocID {
			t.Errorf("reported %s, want %s (this node's task)", id, task.AllocID)
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
