package watch

import (
	"errors"

	"github.com/hashicorp/consul/api"
)

// watchType is one kind of watch: what its parameters need, and the read.
type watchType struct {
	validate func(p *Params) error
	query    func(c *api.Client, p *Params, opts *api.QueryOptions) (any, uint64, error)
}

func none(*Params) error { return nil }

// types are Consul's watch types, with its parameters and results (an
// empty list, not null, where there is nothing).
var types = map[string]watchType{
	"key": {
		validate: func(p *Params) error {
			if p.Key == "" {
				return errors.New("Must specify a single key to watch")
			}
			return nil
		},
		query: func(c *api.Client, p *Params, opts *api.QueryOptions) (any, uint64, error) {
			pair, meta, err := c.KV().Get(p.Key, opts)
			if err != nil {
				return nil, 0, err
			}
			if pair == nil {
				return nil, meta.LastIndex, nil
			}
			return pair, meta.LastIndex, nil
		},
	},
	"keyprefix": {
		validate: func(p *Params) error {
			if p.Prefix == "" {
				return errors.New("Must specify a single prefix to watch")
			}
			return nil
		},
		query: func(c *api.Client, p *Params, opts *api.QueryOptions) (any, uint64, error) {
			pairs, meta, err := c.KV().List(p.Prefix, opts)
			if err != nil {
				return nil, 0, err
			}
			if pairs == nil {
				pairs = api.KVPairs{}
			}
			return pairs, meta.LastIndex, nil
		},
	},
	"service": {
		validate: func(p *Params) error {
			if p.Service == "" {
				return errors.New("Must specify a single service to watch")
			}
			return nil
		},
		query: func(c *api.Client, p *Params, opts *api.QueryOptions) (any, uint64, error) {
			entries, meta, err := c.Health().Service(p.Service, p.Tag, p.PassingOnly, opts)
			if err != nil {
				return nil, 0, err
			}
			if entries == nil {
				entries = []*api.ServiceEntry{}
			}
			return entries, meta.LastIndex, nil
		},
	},
	"services": {
		validate: none,
		query: func(c *api.Client, p *Params, opts *api.QueryOptions) (any, uint64, error) {
			svcs, meta, err := c.Catalog().Services(opts)
			if err != nil {
				return nil, 0, err
			}
			return svcs, meta.LastIndex, nil
		},
	},
	"nodes": {
		validate: none,
		query: func(c *api.Client, p *Params, opts *api.QueryOptions) (any, uint64, error) {
			nodes, meta, err := c.Catalog().Nodes(opts)
			if err != nil {
				return nil, 0, err
			}
			if nodes == nil {
				nodes = []*api.Node{}
			}
			return nodes, meta.LastIndex, nil
		},
	},
	"checks": {
		validate: func(p *Params) error {
			if p.Service != "" && p.State != "" {
				return errors.New("Cannot specify service and state")
			}
			return nil
		},
		query: func(c *api.Client, p *Params, opts *api.QueryOptions) (any, uint64, error) {
			var checks api.HealthChecks
			var meta *api.QueryMeta
			var err error
			if p.Service != "" {
				checks, meta, err = c.Health().Checks(p.Service, opts)
			} else {
				state := p.State
				if state == "" {
					state = api.HealthAny
				}
				checks, meta, err = c.Health().State(state, opts)
			}
			if err != nil {
				return nil, 0, err
			}
			if checks == nil {
				checks = api.HealthChecks{}
			}
			return checks, meta.LastIndex, nil
		},
	},
	"event": {
		validate: none,
		query: func(c *api.Client, p *Params, opts *api.QueryOptions) (any, uint64, error) {
			evs, meta, err := c.Event().List(p.Name, opts)
			if err != nil {
				return nil, 0, err
			}
			if evs == nil {
				evs = []*api.UserEvent{}
			}
			return evs, meta.LastIndex, nil
		},
	},
}
