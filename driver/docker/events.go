package docker

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"
)

// Watch implements driver.Watcher with the engine's event stream: the
// containers of this driver (by label) that die or are destroyed. A
// container removed with `docker rm -f` reports both.
func (d *Driver) Watch(ctx context.Context, changed func(allocID, taskID string)) error {
	f := d.labelFilter(LabelAlloc).Add("type", "container").Add("event", "die").Add("event", "destroy")
	res := d.cli.Events(ctx, client.EventsListOptions{Filters: f})
	for {
		select {
		case m := <-res.Messages:
			if id := m.Actor.Attributes[LabelAlloc]; id != "" {
				changed(id, m.Actor.ID)
			}
		case err := <-res.Err:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("docker: event stream: %w", err)
		}
	}
}
