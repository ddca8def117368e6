package docker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/shoalproject/shoal/driver"
	"github.com/shoalproject/shoal/internal/registrytest"
	"github.com/shoalproject/shoal/sched"
)

// removeImage deletes ref from the engine (absent is fine), so that a test
// starts without it and leaves none behind.
func removeImage(t *testing.T, host, ref string) {
	t.Helper()
	c, err := client.New(client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = c.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true})
}

// TestPull starts tasks whose image is only in a real registry (Debian's
// docker-registry, with and without htpasswd auth) under each pull policy
// and credential choice.
func TestPull(t *testing.T) {
	t.Parallel()
	host := engine(t)
	open := registrytest.Start(t, registrytest.Options{})
	locked := registrytest.Start(t, registrytest.Options{Username: "shoal", Password: "s3cret"})
	openRef, lockedRef := open.Ref("hello:pull"), locked.Ref("hello:pull")
	open.Push(t, host, helloImage, openRef)
	locked.Push(t, host, helloImage, lockedRef)
	good := Credential{Server: locked.Addr, Username: "shoal", Password: "s3cret"}
	bad := Credential{Server: locked.Addr, Username: "shoal", Password: "wrong"}

	tests := []struct {
		name    string
		image   string
		pull    sched.PullPolicy
		auth    string // spec's registry_auth
		creds   map[string]Credential
		present bool // the image is on the node before Start
		wantErr error
		wantMsg []string // in the error
	}{
		{name: "anonymous", image: openRef},
		{name: "credential by name", image: lockedRef, auth: "private", creds: map[string]Credential{"private": good}},
		{name: "credential by server", image: lockedRef, creds: map[string]Credential{"private": good}},
		{name: "no credential", image: lockedRef, wantErr: driver.ErrPullFailed, wantMsg: []string{lockedRef}},
		{name: "wrong password", image: lockedRef, creds: map[string]Credential{"private": bad}, wantErr: driver.ErrPullFailed, wantMsg: []string{lockedRef}},
		{name: "unknown credential", image: lockedRef, auth: "nope", wantErr: driver.ErrPullFailed, wantMsg: []string{lockedRef, `"nope"`}},
		{name: "never", image: openRef, pull: sched.PullNever, wantErr: driver.ErrImageMissing, wantMsg: []string{openRef}},
		{name: "missing tag", image: open.Ref("hello:absent"), wantErr: driver.ErrPullFailed, wantMsg: []string{open.Ref("hello:absent")}},
		// if_not_present uses the image on the node without asking the
		// registry; always asks it (and fails here, for want of a login).
		{name: "present not pulled", image: lockedRef, present: true},
		{name: "always pulls", image: lockedRef, pull: sched.PullAlways, present: true, wantErr: driver.ErrPullFailed, wantMsg: []string{lockedRef}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			removeImage(t, host, tc.image)
			t.Cleanup(func() { removeImage(t, host, tc.image) })
			if tc.present {
				c, err := client.New(client.WithHost(host))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.ImageTag(ctxT(t), client.ImageTagOptions{Source: helloImage, Target: tc.image}); err != nil {
					t.Fatal(err)
				}
				c.Close()
			}
			d := newDriver(t, host, Options{Credentials: tc.creds})
			task := newTask(t, "pull", func(s *sched.Spec) { s.Image, s.Pull, s.RegistryAuth = tc.image, tc.pull, tc.auth })
			st, err := d.Start(ctxT(t), task)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Start: err = %v, want %v", err, tc.wantErr)
				}
				for _, m := range tc.wantMsg {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("Start: error %q does not say %q", err, m)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			if st.State != driver.StateRunning {
				t.Errorf("state = %s, want running", st.State)
			}
			if err := d.Stop(ctxT(t), task.AllocID, 0); err != nil {
				t.Fatal(err)
			}
		})
	}

	// Prepare pulls in the background: it reports progress until the image
	// is there, then ready, and Start does not pull again.
	t.Run("prepare", func(t *testing.T) {
		removeImage(t, host, openRef)
		t.Cleanup(func() { removeImage(t, host, openRef) })
		d := newDriver(t, host, Options{})
		task := newTask(t, "prep", func(s *sched.Spec) { s.Image = openRef })
		ctx := ctxT(t)
		var progress []string
		for {
			ready, p, err := d.Prepare(ctx, task)
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			if ready {
				break
			}
			if !strings.HasPrefix(p, "pulling "+openRef) {
				t.Fatalf("progress = %q, want \"pulling %s...\"", p, openRef)
			}
			progress = append(progress, p)
			if ctx.Err() != nil {
				t.Fatal("Prepare never became ready")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if len(progress) == 0 {
			t.Error("the first Prepare of an absent image said ready without pulling")
		}
		t.Logf("progress: %q", progress)
		if _, err := d.Start(ctx, task); err != nil {
			t.Fatalf("Start after Prepare: %v", err)
		}
		// A failed pull is reported once, with the image, then retried.
		bad := newTask(t, "prep", func(s *sched.Spec) { s.Image = open.Ref("hello:absent") })
		for {
			ready, _, err := d.Prepare(ctx, bad)
			if ready {
				t.Fatal("Prepare of an absent tag said ready")
			}
			if err != nil {
				if !errors.Is(err, driver.ErrPullFailed) || !strings.Contains(err.Error(), "hello:absent") {
					t.Fatalf("Prepare: err = %v, want ErrPullFailed naming the image", err)
				}
				break
			}
			if ctx.Err() != nil {
				t.Fatal("Prepare of an absent tag never failed")
			}
			time.Sleep(10 * time.Millisecond)
		}
		// The failure was reported once: the next call pulls again.
		if ready, p, err := d.Prepare(ctx, bad); ready || (err == nil && !strings.HasPrefix(p, "pulling ")) {
			t.Fatalf("Prepare after a failure = %v, %q, %v; want a new pull", ready, p, err)
		}
	})
}
