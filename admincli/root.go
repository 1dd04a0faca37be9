// Package admincli is `s4 admin`, a command-line client of S4's admin API
// (README "Operating S4"): login and logout, users, S3 credentials, the
// cluster's membership, the scrape tokens of GET /metrics, and the IAM
// history (history, access). It talks
// HTTPS to one node (--endpoint, S4_ENDPOINT; --ca-cert or --insecure for a
// self-signed certificate) and keeps the session token of each endpoint in
// a file only the user can read (session.go). Output is a table, or the
// API's JSON with --json; a failure exits 1 with the API's error message
// (2 for a usage error).
//
// Adding a subcommand: a file with a constructor func(*app) *cobra.Command
// that it registers in an init (register(newXCmd)); the constructor uses
// the app's helpers: a.get, a.post, a.put, a.delete (client.go), a.user
// (a user named by username or ID), a.printJSON and a.table (output.go).
// Every command gets --json and the connection flags from its root.
//
// Files: root.go (Run, the command tree), client.go (the API over HTTPS,
// errors), session.go (the session file), login.go, users.go,
// credentials.go, cluster.go, metrics.go, history.go (the commands),
// output.go.
package admincli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// DefaultEndpoint is the node asked without --endpoint, S4_ENDPOINT or a
// session.
const DefaultEndpoint = "https://localhost:9000"

// app is one run of the command: its flags, streams, and API client.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	endpoint string // as given (flag, variable), "" for the session's
	caCert   string
	insecure bool
	json     bool

	conn *conn // made on first use (client.go)
}

// subcommands are the constructors of `s4 admin`'s subcommands
// (register).
var subcommands []func(*app) *cobra.Command

// register adds a subcommand of `s4 admin`; call it from an init.
func register(fn func(*app) *cobra.Command) { subcommands = append(subcommands, fn) }

// usageError is a wrong invocation: exit status 2.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// Run runs `s4 <args>` for args that start with admin, completion or
// cobra's __complete (the s4 binary hands these over), and returns the
// exit status.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	root := a.commands()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "s4 admin: %v\n", err)
	if _, ok := errors.AsType[usageError](err); ok {
		return 2
	}
	return 1
}

// commands builds the command tree: s4 (only for completion), admin and
// its subcommands.
func (a *app) commands() *cobra.Command {
	root := &cobra.Command{
		Use:           "s4",
		Short:         "S4's command-line tools (this tree: s4 admin and shell completion)",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	admin := &cobra.Command{
		Use:   "admin",
		Short: "Manage an S4 cluster through its admin API",
		Long: `Manage an S4 cluster through its admin API over HTTPS.

Log in once (s4 admin login); the session token is kept in a file only you
can read, per endpoint, until it expires or you log out. Users may be named
by username or by ID. Output is a table, or the API's JSON with --json.`,
		Args: noArgs,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("endpoint") {
				a.endpoint = a.getenv("S4_ENDPOINT")
			}
			if !cmd.Flags().Changed("ca-cert") {
				a.caCert = a.getenv("S4_CA_CERT")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	pf := admin.PersistentFlags()
	pf.StringVar(&a.endpoint, "endpoint", "", "the node's API, https://host:port (S4_ENDPOINT; default: the endpoint of your last login, else "+DefaultEndpoint+")")
	pf.StringVar(&a.caCert, "ca-cert", "", "trust this PEM certificate (a node's data/tls/cert.pem) besides the system's (S4_CA_CERT)")
	pf.BoolVar(&a.insecure, "insecure", false, "do not verify the node's certificate")
	pf.BoolVar(&a.json, "json", false, "print the API's JSON instead of a table")
	for _, fn := range subcommands {
		admin.AddCommand(fn(a))
	}
	root.AddCommand(admin)
	return root
}

// Argument checks that fail as usage errors.

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usagef("%s needs %d argument(s): %v", cmd.CommandPath(), len(names), names)
		}
		return nil
	}
}

func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usagef("%s takes at most %d argument(s)", cmd.CommandPath(), n)
		}
		return nil
	}
}

// group is a command that only holds subcommands.
func group(use, short string, children ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() }}
	c.AddCommand(children...)
	return c
}
