package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/consul/api"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// readMode is a read's consistency: Consul's default, ?stale or
// ?consistent; for etcd, stale is a serializable read and the other two
// are linearizable reads (etcd's default).
type readMode int

const (
	readDefault readMode = iota
	readStale
	readConsistent
)

// kvDriver is one product's KV client, the product's official Go client.
// Methods are safe for concurrent use.
type kvDriver interface {
	put(ctx context.Context, key string, val []byte) error
	get(ctx context.Context, key string, mode readMode) error
	// index returns the version a watch of key starts after.
	index(ctx context.Context, key string) (uint64, error)
	// watch returns a function that blocks until key changes after index,
	// once the watch is registered with the server (as far as the client
	// can tell).
	watch(ctx context.Context, key string, after uint64) (wait func() error, err error)
	close()
}

// consulKV drives Shoal or Consul with github.com/hashicorp/consul/api:
// one api.Client per server address, the calling client's number picks it.
type consulKV struct{ clients []*api.Client }

// Each keeps up to max(clients, mostWatchers) connections idle per server.
func newConsulKV(addrs []string, clients int) (*consulKV, error) {
	conns := max(clients, mostWatchers)
	d := &consulKV{}
	for _, a := range addrs {
		cfg := api.DefaultConfig()
		cfg.Address = a
		cfg.Transport = &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		}
		c, err := api.NewClient(cfg)
		if err != nil {
			return nil, err
		}
		d.clients = append(d.clients, c)
	}
	return d, nil
}

func (d *consulKV) client(ctx context.Context) *api.Client {
	n, _ := ctx.Value(clientKey{}).(int)
	return d.clients[n%len(d.clients)]
}

func (d *consulKV) put(ctx context.Context, key string, val []byte) error {
	_, err := d.client(ctx).KV().Put(&api.KVPair{Key: key, Value: val}, (&api.WriteOptions{}).WithContext(ctx))
	return err
}

func (d *consulKV) get(ctx context.Context, key string, mode readMode) error {
	q := &api.QueryOptions{AllowStale: mode == readStale, RequireConsistent: mode == readConsistent}
	p, _, err := d.client(ctx).KV().Get(key, q.WithContext(ctx))
	if err == nil && p == nil {
		err = fmt.Errorf("get %s: not found", key)
	}
	return err
}

func (d *consulKV) index(ctx context.Context, key string) (uint64, error) {
	_, meta, err := d.client(ctx).KV().Get(key, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return 0, err
	}
	return meta.LastIndex, nil
}

// watch is a blocking query; it cannot tell when the server parked it, so
// the caller leaves time for that.
func (d *consulKV) watch(ctx context.Context, key string, after uint64) (func() error, error) {
	c := d.client(ctx)
	return func() error {
		q := &api.QueryOptions{WaitIndex: after, WaitTime: 2 * time.Minute}
		_, meta, err := c.KV().Get(key, q.WithContext(ctx))
		if err == nil && meta.LastIndex <= after {
			err = errors.New("blocking query returned without a change")
		}
		return err
	}, nil
}

func (d *consulKV) close() {}

// etcdKV drives etcd with go.etcd.io/etcd/client/v3: one client (one
// gRPC connection) per member, the calling client's number picks it.
type etcdKV struct{ clients []*clientv3.Client }

func newEtcdKV(urls []string) (*etcdKV, error) {
	d := &etcdKV{}
	for _, u := range urls {
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{u}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			d.close()
			return nil, err
		}
		d.clients = append(d.clients, c)
	}
	return d, nil
}

func (d *etcdKV) client(ctx context.Context) *clientv3.Client {
	n, _ := ctx.Value(clientKey{}).(int)
	return d.clients[n%len(d.clients)]
}

func (d *etcdKV) put(ctx context.Context, key string, val []byte) error {
	_, err := d.client(ctx).Put(ctx, key, string(val))
	return err
}

func (d *etcdKV) get(ctx context.Context, key string, mode readMode) error {
	var opts []clientv3.OpOption
	if mode == readStale {
		opts = append(opts, clientv3.WithSerializable())
	}
	r, err := d.client(ctx).Get(ctx, key, opts...)
	if err == nil && len(r.Kvs) == 0 {
		err = fmt.Errorf("get %s: not found", key)
	}
	return err
}

func (d *etcdKV) index(ctx context.Context, key string) (uint64, error) {
	r, err := d.client(ctx).Get(ctx, key)
	if err != nil {
		return 0, err
	}
	return uint64(r.Header.Revision), nil
}

// watch registers a watch from revision after+1 and returns once etcd has
// confirmed it (WithCreatedNotify).
func (d *etcdKV) watch(ctx context.Context, key string, after uint64) (func() error, error) {
	ch := d.client(ctx).Watch(ctx, key, clientv3.WithRev(int64(after)+1), clientv3.WithCreatedNotify())
	first, ok := <-ch
	if !ok || !first.Created {
		return nil, fmt.Errorf("etcd watch not created: %v", first.Err())
	}
	return func() error {
		for r := range ch {
			if err := r.Err(); err != nil {
				return err
			}
			if len(r.Events) > 0 {
				return nil
			}
		}
		return errors.New("etcd watch closed")
	}, nil
}

func (d *etcdKV) close() {
	for _, c := range d.clients {
		c.Close()
	}
}

// clientKey carries a load client's number in its context.
type clientKey struct{}
