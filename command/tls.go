package command

import (
	"flag"
	"fmt"
	"net"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/shoalproject/shoal/tlsutil"
)

// tlsCommands are "shoal tls", "tls ca create" and "tls cert create",
// which write files named as Consul's so existing configs and guides work.
func tlsCommands(ui cli.Ui) map[string]cli.CommandFactory {
	return map[string]cli.CommandFactory{
		"tls": func() (cli.Command, error) {
			return &helpOnlyCommand{synopsis: "Builds certificates for the agents' TLS", help: `
Usage: shoal tls <subcommand> [options]

  Creates a certificate authority and agent certificates for TLS on the
  server port and the HTTPS API.

      $ shoal tls ca create
      $ shoal tls cert create -server
      $ shoal tls cert create -client`}, nil
		},
		"tls ca": func() (cli.Command, error) {
			return &helpOnlyCommand{synopsis: "Certificate authority commands", help: "Usage: shoal tls ca create [options]"}, nil
		},
		"tls ca create": func() (cli.Command, error) { return newTLSCACreateCommand(ui), nil },
		"tls cert": func() (cli.Command, error) {
			return &helpOnlyCommand{synopsis: "Certificate commands", help: "Usage: shoal tls cert create [options]"}, nil
		},
		"tls cert create": func() (cli.Command, error) { return newTLSCertCreateCommand(ui), nil },
	}
}

// tlsCACreateCommand implements "shoal tls ca create".
type tlsCACreateCommand struct {
	baseCommand
	opts tlsutil.CAOptions
}

func newTLSCACreateCommand(ui cli.Ui) *tlsCACreateCommand {
	c := &tlsCACreateCommand{}
	c.init(ui, "tls ca create", "Creates a new certificate authority", `
Usage: shoal tls ca create [options]

  Creates a certificate authority in the current directory:
  <domain>-agent-ca.pem and <domain>-agent-ca-key.pem. Keep the key file
  off the agents' hosts.`, noHTTP, func(fs *flag.FlagSet) {
		fs.StringVar(&c.opts.Domain, "domain", "consul", "The `domain` the agents' names end in.")
		fs.IntVar(&c.opts.Days, "days", 1825, "Validity of the CA in `days`.")
		fs.BoolVar(&c.opts.NameConstraint, "name-constraint", false,
			"Limit the CA to names under -domain and localhost.")
	})
	return c
}

// Run implements cli.Command.
func (c *tlsCACreateCommand) Run(args []string) int {
	if !c.parseN(args, 0) {
		return 1
	}
	cert, key, err := tlsutil.WriteCA(".", c.opts)
	if err != nil {
		c.ui.Error("Error: " + err.Error())
		return 1
	}
	c.ui.Output("==> Saved " + strings.TrimPrefix(cert, "./"))
	c.ui.Output("==> Saved " + strings.TrimPrefix(key, "./"))
	return 0
}

// tlsCertCreateCommand implements "shoal tls cert create".
type tlsCertCreateCommand struct {
	baseCommand
	opts        tlsutil.CertOptions
	ca, key     string
	dnsNames    stringList
	ipAddresses stringList
}

func newTLSCertCreateCommand(ui cli.Ui) *tlsCertCreateCommand {
	c := &tlsCertCreateCommand{}
	c.init(ui, "tls cert create", "Creates a new agent certificate", `
Usage: shoal tls cert create [options]

  Signs a certificate for an agent with the CA in the current directory and
  writes it there as <dc>-<server|client>-<domain>-<n>.pem and
  <dc>-<server|client>-<domain>-<n>-key.pem, n the first free number.
  Exactly one of -server and -client is required.`, noHTTP, func(fs *flag.FlagSet) {
		fs.BoolVar(&c.opts.Server, "server", false, "Create a server certificate (server.<dc>.<domain>).")
		fs.BoolVar(&c.opts.Client, "client", false, "Create a client agent certificate (client.<dc>.<domain>).")
		fs.StringVar(&c.opts.Datacenter, "dc", "dc1", "The `datacenter` of the agent.")
		fs.StringVar(&c.opts.Domain, "domain", "consul", "The `domain` the agents' names end in.")
		fs.StringVar(&c.opts.Node, "node", "", "Also name <node>.server.<dc>.<domain> (servers only).")
		fs.IntVar(&c.opts.Days, "days", 365, "Validity of the certificate in `days`.")
		fs.StringVar(&c.ca, "ca", "#DOMAIN#-agent-ca.pem", "The CA certificate `file`.")
		fs.StringVar(&c.key, "key", "#DOMAIN#-agent-ca-key.pem", "The CA key `file`.")
		fs.Var(&c.dnsNames, "additional-dnsname", "An extra DNS `name` for the certificate (repeatable).")
		fs.Var(&c.ipAddresses, "additional-ipaddress", "An extra IP `address` for the certificate (repeatable).")
	})
	return c
}

// Run implements cli.Command.
func (c *tlsCertCreateCommand) Run(args []string) int {
	if !c.parseN(args, 0) {
		return 1
	}
	if c.opts.Server == c.opts.Client {
		return c.usageError("Exactly one of -server and -client is required.")
	}
	if c.opts.Node != "" && !c.opts.Server {
		return c.usageError("-node is only for server certificates.")
	}
	for _, s := range c.ipAddresses {
		ip := net.ParseIP(s)
		if ip == nil {
			return c.usageError(fmt.Sprintf("-additional-ipaddress %q is not an IP address.", s))
		}
		c.opts.IPAddresses = append(c.opts.IPAddresses, ip)
	}
	c.opts.DNSNames = c.dnsNames
	caCert, caKey := tlsutil.CAFileNames(c.opts.Domain)
	c.ca = strings.Replace(c.ca, "#DOMAIN#-agent-ca.pem", caCert, 1)
	c.key = strings.Replace(c.key, "#DOMAIN#-agent-ca-key.pem", caKey, 1)
	cert, key, err := tlsutil.WriteCert(".", c.ca, c.key, c.opts)
	if err != nil {
		c.ui.Error("Error: " + err.Error())
		return 1
	}
	c.ui.Output("==> Using " + c.ca + " and " + c.key)
	c.ui.Output("==> Saved " + strings.TrimPrefix(cert, "./"))
	c.ui.Output("==> Saved " + strings.TrimPrefix(key, "./"))
	return 0
}
