package agent

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Limits on service and node metadata, Consul's (agent/structs).
const (
	metaMaxKeyPairs    = 64
	metaKeyMaxLength   = 128
	metaValueMaxLength = 512
	// metaReservedPrefix is reserved for Consul's own keys.
	metaReservedPrefix = "consul-"
)

var metaKeyFormat = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`).MatchString

// validateMeta checks metadata given through the HTTP API against
// Consul's limits; what names the field ("Service Meta") starts the 400
// message, as in Consul's "Invalid Service Meta: ...".
func validateMeta(what string, meta map[string]string) error {
	if len(meta) > metaMaxKeyPairs {
		return badRequest("Invalid %s: Node metadata cannot contain more than %d key/value pairs", what, metaMaxKeyPairs)
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the first bad key in a stable order
	for _, k := range keys {
		if err := validateMetaPair(k, meta[k]); err != nil {
			return badRequest("Invalid %s: Couldn't load metadata pair ('%s', '%s'): %v", what, k, meta[k], err)
		}
	}
	return nil
}

func validateMetaPair(key, value string) error {
	switch {
	case key == "":
		return fmt.Errorf("Key cannot be blank")
	case !metaKeyFormat(key):
		return fmt.Errorf("Key contains invalid characters")
	case len(key) > metaKeyMaxLength:
		return fmt.Errorf("Key is too long (limit: %d characters)", metaKeyMaxLength)
	case strings.HasPrefix(key, metaReservedPrefix):
		return fmt.Errorf("Key prefix '%s' is reserved for internal use", metaReservedPrefix)
	case len(value) > metaValueMaxLength:
		return fmt.Errorf("Value is too long (limit: %d characters)", metaValueMaxLength)
	}
	return nil
}
