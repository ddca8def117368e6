package command

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/consul/api"
)

// specVersion mirrors the agent's /v1/shoal/services/<name>/versions
// entries.
type specVersion struct {
	ID              uint64
	Version, Digest string
	Time            time.Time
	Replicas        int
	Mode, Image     string
	Current         bool
}

// svcHistoryCommands returns "svc history" and "svc rollback".
func svcHistoryCommands(ui cli.Ui) map[string]cli.CommandFactory {
	return map[string]cli.CommandFactory{
		"svc history": func() (cli.Command, error) {
			return newSvcCommand(ui, "history", `
Usage: shoal svc history [options] SERVICE

  Lists the recorded versions of a service's spec, newest first: the ID to
  pass to "svc rollback", when the scheduler first saw it, replicas, image
  and which one is deployed now. The leader keeps the last 10 per service.`,
				"Lists a service's spec versions", 1, nil, runHistory), nil
		},
		"svc rollback": func() (cli.Command, error) {
			return newSvcCommand(ui, "rollback", `
Usage: shoal svc rollback [options] SERVICE

  Deploys an older version of a service's spec again (a compare-and-set of
  shoal/services/<name>, validated like a deploy) and waits for it to
  converge. Without -version it goes back to the version before the one
  deployed now.`, "Re-deploys an older spec version", 1, func(c *svcCommand, fs *flag.FlagSet) {
				waitFlags(c, fs)
				fs.IntVar(&c.version, "version", 0, "ID of the version to deploy (see svc history); default: the previous one.")
			}, runRollback), nil
		},
	}
}

// getVersions reads a service's versions, newest first.
func getVersions(client *api.Client, name string) ([]specVersion, error) {
	var out []specVersion
	_, err := client.Raw().Query("/v1/shoal/services/"+name+"/versions", &out, nil)
	return out, err
}

func runHistory(c *svcCommand, client *api.Client, addr string, args []string) int {
	vs, err := getVersions(client, args[0])
	if se := (api.StatusError{}); errors.As(err, &se) && se.Code == http.StatusNotFound {
		c.ui.Error(fmt.Sprintf("No versions recorded for service %q", args[0]))
		return 1
	}
	if err != nil {
		return c.fail("reading the versions", err)
	}
	rows := [][]string{{"ID", "Version", "Time", "Replicas", "Image", "Deployed"}}
	for _, v := range vs {
		deployed := ""
		if v.Current {
			deployed = "*"
		}
		replicas := strconv.Itoa(v.Replicas)
		if v.Mode == "global" {
			replicas = "global"
		}
		rows = append(rows, []string{strconv.FormatUint(v.ID, 10), v.Version, v.Time.UTC().Format(time.RFC3339),
			replicas, orDash(v.Image), deployed})
	}
	c.ui.Output(formatTable(rows))
	return 0
}

func runRollback(c *svcCommand, client *api.Client, addr string, args []string) int {
	name := args[0]
	id := uint64(c.version)
	if c.version < 0 {
		return c.usageError(fmt.Sprintf("Invalid -version %d: want a version ID from svc history", c.version))
	}
	if id == 0 {
		vs, err := getVersions(client, name)
		if err != nil {
			return c.fail("reading the versions", err)
		}
		for i, v := range vs {
			if v.Current && i+1 < len(vs) {
				id = vs[i+1].ID
				break
			}
		}
		if id == 0 {
			c.ui.Error(fmt.Sprintf("Service %q has no version before the deployed one; pass -version", name))
			return 1
		}
	}
	req, err := http.NewRequest(http.MethodPut,
		fmt.Sprintf("http://%s/v1/shoal/services/%s/rollback?version=%d", addr, name, id), nil)
	if err != nil {
		c.ui.Error(err.Error())
		return 1
	}
	var reply struct {
		ID      uint64
		Version string
	}
	if err := doJSON(req, &reply); err != nil {
		return c.fail("rolling back", err)
	}
	c.ui.Output(fmt.Sprintf("==> Rolled %s back to version %d (%s)", name, reply.ID, reply.Version))
	if c.detach {
		return 0
	}
	return c.waitConverged(client, addr, name, reply.Version)
}
