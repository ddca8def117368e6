package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-sockaddr"
	"github.com/hashicorp/hcl"
	hclparser "github.com/hashicorp/hcl/hcl/parser"
)

// Load builds the agent's configuration from its command-line arguments:
// Default, then each -config-file and each *.json and *.hcl file of each
// -config-dir (lexical order), in command-line order, then the flags given.
// A later source overrides an earlier one key by key; lists (retry_join,
// services, …) are appended and node_meta and dns_config are merged, as in
// Consul. Dev-mode implications and derived defaults are then applied and
// the result validated.
//
// Errors are one line, ready to print. A flag error wraps the flag
// package's error, so errors.Is(err, flag.ErrHelp) reports -h.
func Load(args []string) (*Config, error) {
	var st flagState
	fs := newFlagSet(&st)
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	}

	c := Default()
	// Left empty so that finish can tell whether they were set.
	c.BindAddr, c.ClientAddr = "", ""
	for _, src := range st.sources {
		paths := []string{src.path}
		if src.dir {
			c.ConfigDirs = append(c.ConfigDirs, src.path)
			var err error
			if paths, err = dirFiles(src.path); err != nil {
				return nil, err
			}
		} else {
			c.ConfigFiles = append(c.ConfigFiles, src.path)
		}
		for _, p := range paths {
			if err := mergeFile(c, p); err != nil {
				return nil, err
			}
		}
	}
	for _, op := range st.ops {
		op(c)
	}
	if err := c.finish(); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// finish applies dev-mode implications and derived defaults.
func (c *Config) finish() error {
	if c.EnableScriptChecks {
		c.EnableLocalScriptChecks = true
	}
	if c.DevMode {
		c.Server, c.Bootstrap = true, true
		if !c.overlaySet {
			c.Overlay.Enabled = false
		}
		if !c.allowSet {
			// A dev agent is one node on its user's machine, run by that
			// user, listening on loopback: it runs what a spec asks, as it
			// always has (ACLs, when on, still gate who may ask).
			c.Scheduler.allowAll()
		}
	}
	if c.BindAddr == "" {
		c.BindAddr = "0.0.0.0"
		if c.DevMode {
			c.BindAddr = "127.0.0.1"
		}
	}
	if c.ClientAddr == "" {
		c.ClientAddr = "127.0.0.1"
	}
	c.Datacenter = strings.ToLower(c.Datacenter) // as Consul does
	if c.AdvertiseAddr != "" {
		return nil
	}
	if ip := net.ParseIP(c.BindAddr); ip == nil || !ip.IsUnspecified() {
		c.AdvertiseAddr = c.BindAddr // an invalid -bind is reported by Validate
		return nil
	}
	ip, err := sockaddr.GetPrivateIP()
	if err != nil {
		return fmt.Errorf("config: finding a private IPv4 address to advertise: %w", err)
	}
	if ip == "" {
		return errors.New("config: no private IPv4 address to advertise; set -advertise or -bind")
	}
	c.AdvertiseAddr = ip
	return nil
}

// dirFiles lists the *.json and *.hcl files of dir in lexical order,
// skipping subdirectories.
func dirFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("config: reading -config-dir: %w", err)
	}
	var paths []string
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if ext != ".json" && ext != ".hcl" {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if fi, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		} else if fi.IsDir() {
			continue
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// mergeFile reads one JSON or HCL file and merges it into c. Errors name
// the file, and the line for syntax errors.
func mergeFile(c *Config, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	m, err := parseFile(path, data)
	if err != nil {
		return err
	}
	normalize(m)
	if err := c.merge(m); err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	return nil
}

// parseFile parses data by the file's extension into a generic map.
func parseFile(path string, data []byte) (map[string]interface{}, error) {
	var m map[string]interface{}
	switch filepath.Ext(path) {
	case ".json":
		if len(bytes.TrimSpace(data)) == 0 {
			return nil, nil
		}
		err := json.Unmarshal(data, &m)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := position(data, se.Offset-1)
			return nil, fmt.Errorf("config: %s:%d:%d: %v", path, line, col, se)
		}
		if err != nil {
			return nil, fmt.Errorf("config: %s: top level must be a JSON object", path)
		}
	case ".hcl":
		err := hcl.Unmarshal(data, &m)
		var pe *hclparser.PosError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("config: %s:%d:%d: %v", path, pe.Pos.Line, pe.Pos.Column, pe.Err)
		}
		if err != nil {
			return nil, fmt.Errorf("config: %s: %w", path, err)
		}
	default:
		return nil, fmt.Errorf("config: %s: unknown format; name the file *.json or *.hcl", path)
	}
	return m, nil
}

// position returns the 1-based line and column of byte offset off in data.
func position(data []byte, off int64) (line, col int) {
	off = max(0, min(off, int64(len(data))))
	before := data[:off]
	return bytes.Count(before, []byte("\n")) + 1, int(off) - bytes.LastIndexByte(before, '\n')
}

// normalize rewrites a parsed file into the shape encoding/json expects:
// "service" and "check" are appended to "services" and "checks", and the
// []map[string]interface{} HCL makes of every block becomes one object,
// except under "services" and "checks", which are lists.
func normalize(m map[string]interface{}) {
	for single, plural := range map[string]string{"service": "services", "check": "checks"} {
		list := asList(m[plural])
		if v, ok := m[single]; ok {
			list = append(list, asList(v)...)
			delete(m, single)
		}
		if list != nil {
			m[plural] = list
		}
	}
	for k, v := range m {
		m[k] = normalizeValue(k, v)
	}
}

// asList returns v as a list: HCL blocks, a JSON array, or one value.
func asList(v interface{}) []interface{} {
	switch v := v.(type) {
	case nil:
		return nil
	case []interface{}:
		return v
	case []map[string]interface{}:
		list := make([]interface{}, len(v))
		for i, e := range v {
			list[i] = e
		}
		return list
	}
	return []interface{}{v}
}

func normalizeValue(key string, v interface{}) interface{} {
	switch v := v.(type) {
	case map[string]interface{}:
		for k, e := range v {
			v[k] = normalizeValue(k, e)
		}
		return v
	case []interface{}:
		for i, e := range v {
			v[i] = normalizeValue(key, e)
		}
		return v
	case []map[string]interface{}:
		if key == "services" || key == "checks" || key == "watches" {
			return normalizeValue(key, asList(v))
		}
		merged := map[string]interface{}{}
		for _, e := range v {
			for k, x := range e {
				merged[k] = normalizeValue(k, x)
			}
		}
		return merged
	}
	return v
}

// merge decodes the normalized file m over c after checking its keys
// against c's json tags and turning duration strings into nanoseconds.
func (c *Config) merge(m map[string]interface{}) error {
	ignored, err := checkKeys(m, reflect.TypeOf(*c), "")
	if err != nil {
		return err
	}
	c.Ignored = append(c.Ignored, ignored...)
	if o, ok := m["overlay"].(map[string]interface{}); ok {
		if _, ok := o["enabled"]; ok {
			c.overlaySet = true
		}
	}
	if sc, ok := m["scheduler"].(map[string]interface{}); ok {
		for k := range sc {
			if strings.HasPrefix(k, "allow_") {
				c.allowSet = true
			}
		}
	}
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	// json.Unmarshal replaces slices; append to what earlier sources set.
	restore := clearSlices(reflect.ValueOf(c).Elem(), m)
	if err := json.Unmarshal(data, c); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%s: cannot use a %s as %s", te.Field, te.Value, te.Type)
		}
		return err
	}
	for _, r := range restore {
		r()
	}
	return nil
}

// clearSlices empties the slice fields of the struct v that m sets, at any
// depth (telemetry.prefix_filter as well as retry_join), and returns
// functions that put the earlier values in front of the decoded ones: as
// in Consul, a list in a later file adds to the lists before it.
func clearSlices(v reflect.Value, m map[string]interface{}) (restore []func()) {
	for i := range v.NumField() {
		f, field := v.Type().Field(i), v.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			restore = append(restore, clearSlices(field, m)...)
			continue
		}
		val, ok := m[jsonName(f)]
		if !ok {
			continue
		}
		switch field.Kind() {
		case reflect.Slice:
			old := reflect.ValueOf(field.Interface()) // a copy, not the field
			field.Set(reflect.Zero(field.Type()))
			restore = append(restore, func() { field.Set(reflect.AppendSlice(old, field)) })
		case reflect.Struct:
			if sub, ok := val.(map[string]interface{}); ok {
				restore = append(restore, clearSlices(field, sub)...)
			}
		}
	}
	return restore
}

// checkKeys rejects keys of m that are not json names of t's fields and
// parses the strings given for time.Duration fields. Consul settings Shoal
// does not implement are removed from m and returned (see consulKey).
// prefix names m's position in the file for errors.
func checkKeys(m map[string]interface{}, t reflect.Type, prefix string) (ignored []string, err error) {
	fields := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			// An embedded struct's keys sit at this level, as in encoding/json.
			for j := range f.Type.NumField() {
				fields[jsonName(f.Type.Field(j))] = f.Type.Field(j)
			}
			continue
		}
		if name := jsonName(f); name != "-" {
			fields[name] = f
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f, ok := fields[k]
		if !ok {
			skip, err := consulKey(prefix + k)
			if err != nil {
				return nil, err
			}
			if !skip {
				return nil, fmt.Errorf("unknown key %q", prefix+k)
			}
			ignored = append(ignored, prefix+k)
			delete(m, k)
			continue
		}
		switch {
		case f.Type == reflect.TypeFor[time.Duration]():
			s, ok := m[k].(string)
			d, err := time.ParseDuration(s)
			if !ok || err != nil {
				return nil, fmt.Errorf("%s%s: want a duration such as \"30s\", got %v", prefix, k, m[k])
			}
			m[k] = int64(d)
		case f.Type.Kind() == reflect.Struct:
			sub, ok := m[k].(map[string]interface{})
			if !ok {
				return nil, fmt.Errorf("%s%s: want an object, got %v", prefix, k, m[k])
			}
			sk, err := checkKeys(sub, f.Type, prefix+k+".")
			if err != nil {
				return nil, err
			}
			ignored = append(ignored, sk...)
		}
	}
	return ignored, nil
}

// jsonName returns the name of f in its json tag.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}
