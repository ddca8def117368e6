package command

import (
	"fmt"

	"github.com/hashicorp/consul/api"
)

// catalogWatchTypes are the watch types of the catalog: service,
// services, checks and nodes, with Consul's parameters and results.
func catalogWatchTypes() map[string]watchType {
	return map[string]watchType{
		"service": {
			validate: func(p *watchParams) error {
				if p.service == "" {
					return fmt.Errorf("Must specify a single service to watch")
				}
				return nil
			},
			query: func(c *api.Client, p *watchParams, opts *api.QueryOptions) (any, uint64, error) {
				entries, meta, err := c.Health().Service(p.service, p.tag, p.passingOnly, opts)
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
			validate: func(p *watchParams) error { return nil },
			query: func(c *api.Client, p *watchParams, opts *api.QueryOptions) (any, uint64, error) {
				svcs, meta, err := c.Catalog().Services(opts)
				if err != nil {
					return nil, 0, err
				}
				return svcs, meta.LastIndex, nil
			},
		},
		"nodes": {
			validate: func(p *watchParams) error { return nil },
			query: func(c *api.Client, p *watchParams, opts *api.QueryOptions) (any, uint64, error) {
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
			validate: func(p *watchParams) error {
				if p.service != "" && p.state != "" {
					return fmt.Errorf("Cannot specify service and state")
				}
				return nil
			},
			query: func(c *api.Client, p *watchParams, opts *api.QueryOptions) (any, uint64, error) {
				var checks api.HealthChecks
				var meta *api.QueryMeta
				var err error
				if p.service != "" {
					checks, meta, err = c.Health().Checks(p.service, opts)
				} else {
					state := p.state
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
	}
}
