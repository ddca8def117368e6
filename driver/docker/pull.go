package docker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"

	"github.com/shoalproject/shoal/driver"
	"github.com/shoalproject/shoal/sched"
)

// Credential is a registry login, held in the agent's configuration and
// referenced from specs by name (sched.Spec.RegistryAuth).
type Credential struct {
	// Server is the registry's host[:port], such as "registry.example:5000";
	// a spec naming no credential uses the one whose Server is its image's
	// registry.
	Server   string
	Username string
	Password string
}

// pullTimeout bounds one pull.
const pullTimeout = 30 * time.Minute

// pull is one image download, shared by every task that waits for the
// same image with the same credential.
type pull struct {
	image string
	done  chan struct{} // closed when finished; err is set before

	mu     sync.Mutex
	layers map[string]layerProgress
	err    error
}

type layerProgress struct{ current, total int64 }

// percent is the share of the bytes downloaded so far over the layers whose
// size is known, and whether any is known.
func (p *pull) percent() (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var cur, tot int64
	for _, l := range p.layers {
		cur, tot = cur+min(l.current, l.total), tot+l.total
	}
	if tot == 0 {
		return 0, false
	}
	return int(cur * 100 / tot), true
}

// progress is what the pull is doing, for status lines.
func (p *pull) progress() string {
	if pc, ok := p.percent(); ok {
		if pc == 100 {
			return fmt.Sprintf("pulling %s: 100 %%, extracting", p.image)
		}
		return fmt.Sprintf("pulling %s: %d %%", p.image, pc)
	}
	return "pulling " + p.image
}

// pulls tracks the downloads in flight (by image and credential) and the
// one each allocation waits for.
type pulls struct {
	mu       sync.Mutex
	inflight map[string]*pull // by image + " " + credential name
	byAlloc  map[string]*pull
}

// present is the finished "pull" of an image that was there already:
// Prepare records it for the allocation, and Start trusts it.
var present = func() *pull {
	p := &pull{done: make(chan struct{})}
	close(p.done)
	return p
}()

// init makes the maps; mu is held.
func (ps *pulls) init() {
	if ps.inflight == nil {
		ps.inflight, ps.byAlloc = map[string]*pull{}, map[string]*pull{}
	}
}

// Prepare pulls the task's image in the background when its pull policy
// asks for it, and reports progress until it is there (driver.Preparer).
func (d *Driver) Prepare(ctx context.Context, t *driver.Task) (bool, string, error) {
	if t == nil || t.Spec == nil || t.Spec.Image == "" {
		return false, "", errors.New("docker: prepare: task without spec or image")
	}
	d.pulls.mu.Lock()
	p := d.pulls.byAlloc[t.AllocID]
	d.pulls.mu.Unlock()
	if p == nil {
		need, err := d.needsPull(ctx, t)
		if err != nil {
			return false, "", err
		}
		if !need {
			// Present: Start takes this answer instead of asking the
			// engine again (one round trip less per start).
			d.pulls.mu.Lock()
			d.pulls.init()
			d.pulls.byAlloc[t.AllocID] = present
			d.pulls.mu.Unlock()
			return true, "", nil
		}
		p, err = d.startPull(t)
		if err != nil {
			return false, "", err
		}
	}
	select {
	case <-p.done:
		if p.err != nil {
			d.pulls.mu.Lock()
			if d.pulls.byAlloc[t.AllocID] == p {
				delete(d.pulls.byAlloc, t.AllocID)
			}
			d.pulls.mu.Unlock()
			return false, "", p.err
		}
		return true, "", nil // Start forgets it
	default:
		return false, p.progress(), nil
	}
}

// needsPull reports whether the task's image must be pulled before it
// starts: always with "always", when absent with "if_not_present"; with
// "never" an absent image is driver.ErrImageMissing.
func (d *Driver) needsPull(ctx context.Context, t *driver.Task) (bool, error) {
	policy := t.Spec.Pull
	if policy == sched.PullAlways {
		return true, nil
	}
	_, err := d.cli.ImageInspect(ctx, t.Spec.Image)
	switch {
	case err == nil:
		return false, nil
	case !cerrdefs.IsNotFound(err):
		return false, fmt.Errorf("docker: inspect image %s: %w", t.Spec.Image, err)
	case policy == sched.PullNever:
		return false, fmt.Errorf("docker: %w: %s (pull policy \"never\": load or build it on this node)", driver.ErrImageMissing, t.Spec.Image)
	default:
		return true, nil
	}
}

// startPull starts (or joins) the download of the task's image and
// records it as the one the allocation waits for.
func (d *Driver) startPull(t *driver.Task) (*pull, error) {
	auth, authName, err := d.credential(t.Spec)
	if err != nil {
		return nil, err
	}
	key := t.Spec.Image + " " + authName
	d.pulls.mu.Lock()
	defer d.pulls.mu.Unlock()
	d.pulls.init()
	p := d.pulls.inflight[key]
	if p == nil {
		p = &pull{image: t.Spec.Image, done: make(chan struct{}), layers: map[string]layerProgress{}}
		d.pulls.inflight[key] = p
		go func() {
			err := d.runPull(p, auth)
			p.mu.Lock()
			p.err = err
			p.mu.Unlock()
			d.pulls.mu.Lock()
			delete(d.pulls.inflight, key)
			d.pulls.mu.Unlock()
			close(p.done)
		}()
	}
	d.pulls.byAlloc[t.AllocID] = p
	return p, nil
}

// credential returns the encoded registry auth for the spec's image and
// the credential's name: the one the spec names, else the one whose
// server is the image's registry, else none.
func (d *Driver) credential(s *sched.Spec) (string, string, error) {
	name := s.RegistryAuth
	var cred Credential
	if name != "" {
		c, ok := d.opts.Credentials[name]
		if !ok {
			return "", "", fmt.Errorf("docker: %w: %s: registry credential %q is not in this agent's configuration (registry_auth)", driver.ErrPullFailed, s.Image, name)
		}
		cred = c
	} else {
		ref, err := reference.ParseNormalizedNamed(s.Image)
		if err != nil {
			return "", "", fmt.Errorf("docker: %w: %s: %w", driver.ErrPullFailed, s.Image, err)
		}
		domain := reference.Domain(ref)
		for n, c := range d.opts.Credentials {
			if strings.EqualFold(c.Server, domain) && (name == "" || n < name) {
				name, cred = n, c
			}
		}
		if name == "" {
			return "", "", nil
		}
	}
	// The engine's X-Registry-Auth header: base64url of the JSON AuthConfig.
	b, err := json.Marshal(registry.AuthConfig{Username: cred.Username, Password: cred.Password, ServerAddress: cred.Server})
	if err != nil {
		return "", "", fmt.Errorf("docker: registry credential %q: %w", name, err)
	}
	return base64.URLEncoding.EncodeToString(b), name, nil
}

// runPull downloads p.image, recording progress, and returns an error
// wrapping driver.ErrPullFailed that names the image and the reason.
func (d *Driver) runPull(p *pull, auth string) error {
	ctx, cancel := context.WithTimeout(d.ctx, pullTimeout)
	defer cancel()
	start := time.Now()
	d.logger.Info("pulling image", "image", p.image)
	resp, err := d.cli.ImagePull(ctx, p.image, client.ImagePullOptions{RegistryAuth: auth})
	if err != nil {
		return fmt.Errorf("docker: %w: %s: %w", driver.ErrPullFailed, p.image, err)
	}
	defer resp.Close()
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return fmt.Errorf("docker: %w: %s: %w", driver.ErrPullFailed, p.image, err)
		}
		if msg.Error != nil {
			return fmt.Errorf("docker: %w: %s: %s", driver.ErrPullFailed, p.image, msg.Error.Message)
		}
		if msg.ID == "" {
			continue
		}
		p.mu.Lock()
		l := p.layers[msg.ID]
		switch {
		case msg.Status == "Downloading" && msg.Progress != nil && msg.Progress.Total > 0:
			l = layerProgress{current: msg.Progress.Current, total: msg.Progress.Total}
		case msg.Status == "Download complete" || msg.Status == "Pull complete" || msg.Status == "Already exists":
			if l.total > 0 {
				l.current = l.total
			}
		}
		if l.total > 0 {
			p.layers[msg.ID] = l
		}
		p.mu.Unlock()
	}
	d.logger.Info("pulled image", "image", p.image, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// ensureImage is Start's check: a task Prepare readied starts at once;
// otherwise Start pulls as Prepare would, and waits.
func (d *Driver) ensureImage(ctx context.Context, t *driver.Task) error {
	d.pulls.mu.Lock()
	p := d.pulls.byAlloc[t.AllocID]
	delete(d.pulls.byAlloc, t.AllocID)
	d.pulls.mu.Unlock()
	if p == nil {
		need, err := d.needsPull(ctx, t)
		if err != nil || !need {
			return err
		}
		if p, err = d.startPull(t); err != nil {
			return err
		}
		d.pulls.mu.Lock()
		delete(d.pulls.byAlloc, t.AllocID)
		d.pulls.mu.Unlock()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return p.err
	}
}
