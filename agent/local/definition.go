package local

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shoalproject/shoal/catalog"
)

// Duration is a time.Duration that decodes from a string such as "10s"
// (Consul's form) or a number of nanoseconds, and encodes as a string.
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			*d = 0
			return nil
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q", s)
		}
		*d = Duration(v)
		return nil
	}
	n, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("invalid duration %s", b)
	}
	*d = Duration(int64(n))
	return nil
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	if d == 0 {
		return []byte(`""`), nil
	}
	return json.Marshal(time.Duration(d).String())
}

// ServiceDefinition is a service as registered through
// /v1/agent/service/register or a config file.
type ServiceDefinition struct {
	Kind              string            `json:",omitempty"`
	ID                string            `json:",omitempty"`
	Name              string            `json:",omitempty"`
	Tags              []string          `json:",omitempty"`
	Address           string            `json:",omitempty"`
	Meta              map[string]string `json:",omitempty"`
	Port              int               `json:",omitempty"`
	Weights           *catalog.Weights  `json:",omitempty"`
	EnableTagOverride bool              `json:",omitempty"`
	Check             *CheckDefinition  `json:",omitempty"`
	Checks            []*CheckDefinition
}

// CheckDefinition is a check as registered through
// /v1/agent/check/register, a service definition or a config file.
type CheckDefinition struct {
	ID                             string              `json:",omitempty"`
	CheckID                        string              `json:",omitempty"`
	Name                           string              `json:",omitempty"`
	Notes                          string              `json:",omitempty"`
	ServiceID                      string              `json:",omitempty"`
	Status                         string              `json:",omitempty"`
	Args                           []string            `json:",omitempty"`
	ScriptArgs                     []string            `json:",omitempty"`
	HTTP                           string              `json:",omitempty"`
	Header                         map[string][]string `json:",omitempty"`
	Method                         string              `json:",omitempty"`
	Body                           string              `json:",omitempty"`
	TLSSkipVerify                  bool                `json:",omitempty"`
	TLSServerName                  string              `json:",omitempty"`
	DisableRedirects               bool                `json:",omitempty"`
	TCP                            string              `json:",omitempty"`
	GRPC                           string              `json:",omitempty"`
	GRPCUseTLS                     bool                `json:",omitempty"`
	TTL                            Duration            `json:",omitempty"`
	Interval                       Duration            `json:",omitempty"`
	Timeout                        Duration            `json:",omitempty"`
	DeregisterCriticalServiceAfter Duration            `json:",omitempty"`
	SuccessBeforePassing           int                 `json:",omitempty"`
	FailuresBeforeWarning          int                 `json:",omitempty"`
	FailuresBeforeCritical         int                 `json:",omitempty"`
	OutputMaxSize                  int                 `json:",omitempty"`

	// Not supported by Shoal; rejected with a clear error when set.
	DockerContainerID string `json:",omitempty"`
	Shell             string `json:",omitempty"`
	H2PING            string `json:",omitempty"`
	UDP               string `json:",omitempty"`
	AliasNode         string `json:",omitempty"`
	AliasService      string `json:",omitempty"`
}

// Check types, as in HealthCheck.Type.
const (
	TypeHTTP   = "http"
	TypeTCP    = "tcp"
	TypeTTL    = "ttl"
	TypeScript = "script"
	TypeGRPC   = "grpc"
	TypeMaint  = "maintenance"
)

// ErrInvalid wraps every validation error of a definition: the API
// answers it with 400.
var ErrInvalid = errors.New("invalid definition")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// mapKeys are keys whose values are user maps: their own keys are kept
// as written.
var mapKeys = map[string]bool{"meta": true, "header": true, "taggedaddresses": true, "nodemeta": true}

// translateKeys rewrites a decoded JSON/HCL value so that Consul's
// snake_case keys ("enable_tag_override", "deregister_critical_service_after")
// match the CamelCase fields case-insensitively, and maps Consul's aliases.
func translateKeys(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			nk := strings.ReplaceAll(k, "_", "")
			if strings.EqualFold(nk, "scriptargs") {
				nk = "Args"
			}
			if mapKeys[strings.ToLower(nk)] {
				out[nk] = e
				continue
			}
			out[nk] = translateKeys(e)
		}
		return out
	case []any:
		for i, e := range v {
			v[i] = translateKeys(e)
		}
		return v
	case []map[string]any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = translateKeys(e)
		}
		return out
	}
	return v
}

// DecodeService decodes a service definition from a decoded JSON/HCL map
// (a config file entry) or from a request body's raw JSON.
func DecodeService(raw any) (*ServiceDefinition, error) {
	var def ServiceDefinition
	if err := decode(raw, &def); err != nil {
		return nil, err
	}
	return &def, nil
}

// DecodeCheck decodes a check definition like DecodeService.
func DecodeCheck(raw any) (*CheckDefinition, error) {
	var def CheckDefinition
	if err := decode(raw, &def); err != nil {
		return nil, err
	}
	return &def, nil
}

func decode(raw any, out any) error {
	if b, ok := raw.([]byte); ok {
		var m any
		if err := json.Unmarshal(b, &m); err != nil {
			return invalid("Request decode failed: %v", err)
		}
		raw = m
	}
	b, err := json.Marshal(translateKeys(raw))
	if err != nil {
		return invalid("%v", err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return invalid("Request decode failed: %v", err)
	}
	return nil
}

// Validate checks a service definition and its checks.
func (d *ServiceDefinition) Validate() error {
	if d.Name == "" {
		return invalid("Missing service name")
	}
	if d.Port < 0 || d.Port > 65535 {
		return invalid("Invalid service port %d", d.Port)
	}
	if d.Weights != nil && d.Weights.Passing < 1 {
		return invalid("Passing must be greater than 0")
	}
	for _, c := range d.AllChecks() {
		if err := c.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// ServiceID is the definition's ID, its name by default.
func (d *ServiceDefinition) ServiceID() string {
	if d.ID != "" {
		return d.ID
	}
	return d.Name
}

// AllChecks returns Check and Checks with IDs, names and ServiceID filled
// in as Consul does: "service:<id>", or "service:<id>:<n>" when there are
// several.
func (d *ServiceDefinition) AllChecks() []*CheckDefinition {
	var all []*CheckDefinition
	if d.Check != nil {
		all = append(all, d.Check)
	}
	all = append(all, d.Checks...)
	sid := d.ServiceID()
	out := make([]*CheckDefinition, 0, len(all))
	for i, c := range all {
		cp := *c
		cp.ServiceID = sid
		if cp.CheckID == "" {
			cp.CheckID = cp.ID
		}
		if cp.CheckID == "" {
			cp.CheckID = "service:" + sid
			if len(all) > 1 {
				cp.CheckID += ":" + strconv.Itoa(i+1)
			}
		}
		cp.ID = ""
		if cp.Name == "" {
			cp.Name = "Service '" + d.Name + "' check"
		}
		out = append(out, &cp)
	}
	return out
}

// Service is the catalog entry of the definition.
func (d *ServiceDefinition) Service() *catalog.Service {
	w := catalog.Weights{Passing: 1, Warning: 1}
	if d.Weights != nil {
		w = *d.Weights
	}
	tags := d.Tags
	if tags == nil {
		tags = []string{}
	}
	meta := d.Meta
	if meta == nil {
		meta = map[string]string{}
	}
	return &catalog.Service{
		Kind: d.Kind, ID: d.ServiceID(), Service: d.Name, Tags: tags, Address: d.Address,
		Meta: meta, Port: d.Port, Weights: &w, EnableTagOverride: d.EnableTagOverride,
	}
}

// Normalize fills in the check's ID (its name by default) and merges Args.
func (c *CheckDefinition) Normalize() {
	if c.CheckID == "" {
		c.CheckID = c.ID
	}
	if c.CheckID == "" {
		c.CheckID = c.Name
	}
	c.ID = ""
	if len(c.Args) == 0 {
		c.Args = c.ScriptArgs
	}
	c.ScriptArgs = nil
	if c.Name == "" {
		c.Name = c.CheckID
	}
}

// Type names the kind of check ("" when none is set).
func (c *CheckDefinition) Type() string {
	switch {
	case c.TTL > 0:
		return TypeTTL
	case c.HTTP != "":
		return TypeHTTP
	case c.TCP != "":
		return TypeTCP
	case c.GRPC != "":
		return TypeGRPC
	case len(c.Args) > 0 || len(c.ScriptArgs) > 0:
		return TypeScript
	}
	return ""
}

// Validate checks the definition as Consul's CheckType.Validate does.
func (c *CheckDefinition) Validate() error {
	c.Normalize()
	switch c.Status {
	case "", catalog.HealthPassing, catalog.HealthWarning, catalog.HealthCritical:
	default:
		return invalid("Invalid initial status %q", c.Status)
	}
	switch {
	case c.DockerContainerID != "", c.Shell != "":
		return invalid("Docker checks are not supported by Shoal")
	case c.H2PING != "":
		return invalid("H2PING checks are not supported by Shoal")
	case c.UDP != "":
		return invalid("UDP checks are not supported by Shoal")
	case c.AliasNode != "" || c.AliasService != "":
		return invalid("Alias checks are not supported by Shoal")
	}
	typ := c.Type()
	if typ == "" {
		return invalid("Must provide TTL or Script/HTTP/TCP/GRPC and Interval")
	}
	if typ != TypeTTL && c.Interval <= 0 {
		return invalid("Interval must be > 0 for Script, HTTP, TCP or GRPC checks")
	}
	if c.Timeout < 0 {
		return invalid("Timeout must be >= 0")
	}
	if c.CheckID == "" {
		return invalid("Missing check name")
	}
	return nil
}

// HealthCheck is the catalog entry of the definition, with its initial
// status (critical unless given).
func (c *CheckDefinition) HealthCheck() *catalog.HealthCheck {
	st := c.Status
	if st == "" {
		st = catalog.HealthCritical
	}
	return &catalog.HealthCheck{CheckID: c.CheckID, Name: c.Name, Notes: c.Notes, Status: st,
		ServiceID: c.ServiceID, Type: c.Type()}
}
