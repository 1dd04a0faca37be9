package admincli

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func init() {
	register(newLoginCmd)
	register(newLogoutCmd)
}

func newLoginCmd(a *app) *cobra.Command {
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "login [USERNAME]",
		Short: "Log in (as root unless USERNAME is given) and keep the session token for this endpoint",
		Long: `Log in to the endpoint and keep the session token in a file only you can
read (<config dir>/s4/sessions.json), with the endpoint's --ca-cert or
--insecure: later commands without --endpoint talk to it. The password is
asked for without echo on a terminal, otherwise read from the first line of
standard input (--password-stdin forces that).`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			username := "root"
			if len(args) == 1 {
				username = args[0]
			}
			c, err := a.connect()
			if err != nil {
				return err
			}
			pw, err := a.readPassword(fmt.Sprintf("Password for %s at %s: ", username, c.endpoint), false, fromStdin)
			if err != nil {
				return err
			}
			r, err := a.do("POST", "login", map[string]string{"username": username, "password": pw}, false)
			if err != nil {
				return err
			}
			var out struct {
				Token     string    `json:"token"`
				ExpiresAt time.Time `json:"expires_at"`
			}
			if err := jsonDecode(r.body, &out); err != nil {
				return err
			}
			st, err := a.sessions()
			if err != nil {
				return err
			}
			s := &session{Username: username, Token: out.Token, ExpiresAt: out.ExpiresAt, Insecure: a.insecure}
			if a.caCert != "" {
				if s.CACert, err = filepath.Abs(a.caCert); err != nil {
					return err
				}
			} else if old := st.Sessions[c.endpoint]; old != nil && !a.insecure {
				s.CACert, s.Insecure = old.CACert, old.Insecure
			}
			st.Sessions[c.endpoint], st.Current = s, c.endpoint
			if err := a.saveSessions(st); err != nil {
				return fmt.Errorf("logged in, but the session could not be kept: %w", err)
			}
			if a.json {
				return a.printJSON(map[string]any{"endpoint": c.endpoint, "username": username, "expires_at": out.ExpiresAt})
			}
			a.say("Logged in to %s as %s until %s.", c.endpoint, username, out.ExpiresAt.UTC().Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input")
	return cmd
}

func newLogoutCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Forget the session token of this endpoint",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.connect()
			if err != nil {
				return err
			}
			st, err := a.sessions()
			if err != nil {
				return err
			}
			_, had := st.Sessions[c.endpoint]
			delete(st.Sessions, c.endpoint)
			if st.Current == c.endpoint {
				st.Current = ""
			}
			if err := a.saveSessions(st); err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"endpoint": c.endpoint, "logged_out": had})
			}
			if had {
				a.say("Logged out of %s.", c.endpoint)
			} else {
				a.say("Not logged in to %s.", c.endpoint)
			}
			return nil
		},
	}
}

// readPassword reads a password: without echo from a terminal (asked
// twice with confirm), else the first line of standard input.
func (a *app) readPassword(prompt string, confirm, fromStdin bool) (string, error) {
	f, isFile := a.stdin.(*os.File)
	if !fromStdin && isFile && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(a.stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.stderr)
		if err != nil {
			return "", err
		}
		if confirm {
			fmt.Fprint(a.stderr, "Again: ")
			b2, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(a.stderr)
			if err != nil {
				return "", err
			}
			if string(b2) != string(b) {
				return "", errors.New("the passwords differ")
			}
		}
		if len(b) == 0 {
			return "", errors.New("no password given")
		}
		return string(b), nil
	}
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no password on standard input")
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on standard input")
	}
	return pw, nil
}
