package command

import (
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/hashicorp/consul/api"
)

// newKVCommand returns the "shoal kv" parent command.
func newKVCommand() *helpOnlyCommand {
	return &helpOnlyCommand{
		synopsis: "Interact with the key-value store",
		help: `
Usage: shoal kv <subcommand> [options] [args]

  Reads, writes and deletes keys of the cluster's key-value store, and
  exports and imports trees of it, as "consul kv" does.

      $ shoal kv put redis/config/connections 5
      $ shoal kv get redis/config/connections
      $ shoal kv get -recurse redis/
      $ shoal kv delete -recurse redis/
      $ shoal kv export redis/ > redis.json
      $ shoal kv import @redis.json`,
	}
}

// kvKeyArg strips the leading slash Consul's CLI also strips.
func kvKeyArg(key string) string { return strings.TrimPrefix(key, "/") }

// optionalKeyArg reads the one optional KEY or PREFIX argument ("" when
// absent); msg is the usage error when there are more.
func optionalKeyArg(fs *flag.FlagSet) (key, msg string) {
	if n := fs.NArg(); n > 1 {
		return "", fmt.Sprintf("Too many arguments (expected 1, got %d)", n)
	}
	return kvKeyArg(fs.Arg(0)), ""
}

// readDataArg resolves a DATA argument as Consul's CLI: "@path" reads the
// file, "-" reads stdin, anything else is the data itself.
func readDataArg(arg string, stdin io.Reader) (string, error) {
	switch {
	case strings.HasPrefix(arg, "@"):
		b, err := os.ReadFile(arg[1:])
		if err != nil {
			return "", fmt.Errorf("Failed to read file: %w", err)
		}
		return string(b), nil
	case arg == "-":
		if stdin == nil {
			return "", errors.New("no stdin")
		}
		var b bytes.Buffer
		if _, err := io.Copy(&b, stdin); err != nil {
			return "", fmt.Errorf("Failed to read stdin: %w", err)
		}
		return b.String(), nil
	default:
		return arg, nil
	}
}

// prettyKVPair renders a pair as "consul kv get -detailed" does.
func prettyKVPair(pair *api.KVPair, b64 bool) string {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 2, 6, ' ', 0)
	fmt.Fprintf(tw, "CreateIndex\t%d\n", pair.CreateIndex)
	fmt.Fprintf(tw, "Flags\t%d\n", pair.Flags)
	fmt.Fprintf(tw, "Key\t%s\n", pair.Key)
	fmt.Fprintf(tw, "LockIndex\t%d\n", pair.LockIndex)
	fmt.Fprintf(tw, "ModifyIndex\t%d\n", pair.ModifyIndex)
	if pair.Session == "" {
		fmt.Fprint(tw, "Session\t-\n")
	} else {
		fmt.Fprintf(tw, "Session\t%s\n", pair.Session)
	}
	if b64 {
		fmt.Fprintf(tw, "Value\t%s", base64.StdEncoding.EncodeToString(pair.Value))
	} else {
		fmt.Fprintf(tw, "Value\t%s", pair.Value)
	}
	_ = tw.Flush()
	return b.String()
}

// kvExportEntry is one key of "kv export" / "kv import", as Consul's.
type kvExportEntry struct {
	Key   string `json:"key"`
	Flags uint64 `json:"flags"`
	Value string `json:"value"`
}
