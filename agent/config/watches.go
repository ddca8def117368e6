package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shoalproject/shoal/watch"
)

// Watch is one entry of the watches setting, as Consul's agent watches:
// what to watch, and the handler the agent runs with the view as JSON now
// and on every change.
type Watch struct {
	watch.Params
	// Datacenter and Token are the reads' ?dc and token ("": the agent's
	// datacenter and default token).
	Datacenter, Token string
	// Args is a script handler's command and arguments, run without a
	// shell; Shell, Consul's deprecated "handler" string, run with sh -c.
	Args  []string
	Shell string
	// HTTP is the http handler (handler_type = "http"); nil for a script.
	HTTP *watch.HTTPConfig
}

// watchKeys are the keys a watch may have, Consul's.
var watchKeys = []string{
	"type", "datacenter", "token", "handler_type", "args", "handler", "http_handler_config",
	"key", "prefix", "service", "tag", "passingonly", "state", "name", "stale",
}

// ParseWatches checks the watches setting and returns it typed. Its errors
// name the watch by its position ("watches[1]") and say what is wrong.
func (c *Config) ParseWatches() ([]Watch, error) {
	var out []Watch
	for i, m := range c.Watches {
		w, err := parseWatch(m)
		if err != nil {
			return nil, fmt.Errorf("watches[%d]: %w", i, err)
		}
		out = append(out, w)
	}
	return out, nil
}

func parseWatch(m map[string]interface{}) (Watch, error) {
	var w Watch
	for k := range m {
		if !slices.Contains(watchKeys, k) {
			return w, fmt.Errorf("unknown key %q (a watch takes %s)", k, strings.Join(watchKeys, ", "))
		}
	}
	var err error
	str := func(k string) string {
		v, ok := m[k]
		if !ok || err != nil {
			return ""
		}
		s, ok := v.(string)
		if !ok {
			err = fmt.Errorf("%s: cannot use a %T as a string", k, v)
		}
		return s
	}
	w.Type, w.Key, w.Prefix = str("type"), str("key"), str("prefix")
	w.Service, w.Tag, w.State, w.Name = str("service"), str("tag"), str("state"), str("name")
	w.Datacenter, w.Token, w.Shell = str("datacenter"), str("token"), str("handler")
	handlerType := str("handler_type")
	if err != nil {
		return w, err
	}
	for k, dst := range map[string]*bool{"passingonly": &w.PassingOnly, "stale": &w.Stale} {
		if v, ok := m[k]; ok {
			b, ok := v.(bool)
			if !ok {
				return w, fmt.Errorf("%s: cannot use a %T as a bool", k, v)
			}
			*dst = b
		}
	}
	if _, err := watch.New(w.Params); err != nil {
		return w, err
	}
	if v, ok := m["args"]; ok {
		list, ok := v.([]interface{})
		if !ok {
			return w, fmt.Errorf("args: cannot use a %T as a list of strings", v)
		}
		for _, a := range list {
			s, ok := a.(string)
			if !ok {
				return w, fmt.Errorf("args: cannot use a %T as a string", a)
			}
			w.Args = append(w.Args, s)
		}
	}
	_, hasHTTP := m["http_handler_config"]
	switch handlerType {
	case "", "script":
		if hasHTTP {
			return w, fmt.Errorf(`http_handler_config needs handler_type = "http"`)
		}
		if (len(w.Args) == 0) == (w.Shell == "") {
			return w, fmt.Errorf("a script watch needs exactly one of args (a command and its arguments) or handler (a shell command)")
		}
	case "http":
		if len(w.Args) > 0 || w.Shell != "" {
			return w, fmt.Errorf(`args and handler are for handler_type = "script"`)
		}
		hc, err := parseHTTPHandler(m["http_handler_config"])
		if err != nil {
			return w, fmt.Errorf("http_handler_config: %w", err)
		}
		w.HTTP = hc
	default:
		return w, fmt.Errorf(`handler_type %q: must be "script" or "http"`, handlerType)
	}
	return w, nil
}

func parseHTTPHandler(v interface{}) (*watch.HTTPConfig, error) {
	m, ok := v.(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("missing, or not a block (path is required)")
	}
	hc := &watch.HTTPConfig{}
	for k, v := range m {
		switch k {
		case "path", "method":
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("%s: cannot use a %T as a string", k, v)
			}
			if k == "path" {
				hc.Path = s
			} else {
				hc.Method = strings.ToUpper(s)
			}
		case "timeout":
			s, ok := v.(string)
			d, err := time.ParseDuration(s)
			if !ok || err != nil || d <= 0 {
				return nil, fmt.Errorf("timeout: %v is not a positive duration such as \"10s\"", v)
			}
			hc.Timeout = d
		case "tls_skip_verify":
			b, ok := v.(bool)
			if !ok {
				return nil, fmt.Errorf("tls_skip_verify: cannot use a %T as a bool", v)
			}
			hc.TLSSkipVerify = b
		case "header":
			hm, ok := v.(map[string]interface{})
			if !ok {
				return nil, fmt.Errorf("header: cannot use a %T as a map of lists of strings", v)
			}
			hc.Header = map[string][]string{}
			for name, vals := range hm {
				list, ok := vals.([]interface{})
				if !ok {
					return nil, fmt.Errorf("header %s: cannot use a %T as a list of strings", name, vals)
				}
				for _, x := range list {
					s, ok := x.(string)
					if !ok {
						return nil, fmt.Errorf("header %s: cannot use a %T as a string", name, x)
					}
					hc.Header[name] = append(hc.Header[name], s)
				}
			}
		default:
			return nil, fmt.Errorf("unknown key %q (path, method, header, timeout, tls_skip_verify)", k)
		}
	}
	if !strings.HasPrefix(hc.Path, "http://") && !strings.HasPrefix(hc.Path, "https://") {
		return nil, fmt.Errorf("path %q: must be an http:// or https:// URL", hc.Path)
	}
	return hc, nil
}
