package admincli

import (
	"net/url"
	"strings"

	"github.com/spf13/cobra"
)

func init() { register(newUserCmd) }

// userJSON is a user as the API gives it.
type userJSON struct {
	ID        string `json:"id"`
	Username  string `json:"username"`
	Role      string `json:"role"`
	IsActive  bool   `json:"is_active"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	AccessKey string `json:"access_key,omitempty"`
}

// user finds the user named by arg: an ID or a username. When neither
// matches, the error is the API's answer for that ID.
func (a *app) user(arg string) (*userJSON, error) {
	var users []userJSON
	if _, err := a.get("users", &users); err != nil {
		return nil, err
	}
	for i := range users {
		if users[i].ID == arg {
			return &users[i], nil
		}
	}
	for i := range users {
		if users[i].Username == arg {
			return &users[i], nil
		}
	}
	var u userJSON
	if _, err := a.get("users/"+url.PathEscape(arg), &u); err != nil {
		return nil, err
	}
	return &u, nil
}

func (a *app) userTable(users ...userJSON) error {
	rows := make([][]string, 0, len(users))
	for _, u := range users {
		rows = append(rows, []string{u.Username, u.ID, u.Role, yesNo(u.IsActive), orDash(u.AccessKey), shortTime(u.CreatedAt)})
	}
	return a.table([]string{"USERNAME", "ID", "ROLE", "ACTIVE", "ACCESS KEY", "CREATED"}, rows)
}

// printUser prints the API's answer about one user.
func (a *app) printUser(r *response, u *userJSON) error {
	if a.json {
		return a.printRaw(r.body)
	}
	return a.userTable(*u)
}

func newUserCmd(a *app) *cobra.Command {
	list := &cobra.Command{
		Use: "list", Short: "List the users (by creation time)", Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			var users []userJSON
			r, err := a.get("users", &users)
			if err != nil {
				return err
			}
			if a.json {
				return a.printRaw(r.body)
			}
			return a.userTable(users...)
		},
	}

	var role string
	var pwStdin bool
	create := &cobra.Command{
		Use: "create USERNAME --role Reader|Writer|SuperUser", Short: "Create a user (asks for its password)", Args: exactArgs("USERNAME"),
		RunE: func(_ *cobra.Command, args []string) error {
			if role == "" {
				return usagef("--role is required: Reader, Writer or SuperUser")
			}
			pw, err := a.readPassword("Password for "+args[0]+": ", true, pwStdin)
			if err != nil {
				return err
			}
			var u userJSON
			r, err := a.post("users", map[string]string{"username": args[0], "password": pw, "role": role}, &u)
			if err != nil {
				return err
			}
			return a.printUser(r, &u)
		},
	}
	create.Flags().StringVar(&role, "role", "", "Reader, Writer or SuperUser")
	create.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input")

	get := &cobra.Command{
		Use: "get USER", Short: "Show a user (by username or ID)", Args: exactArgs("USER"), ValidArgsFunction: a.completeUsers,
		RunE: func(_ *cobra.Command, args []string) error {
			u, err := a.user(args[0])
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(u)
			}
			return a.userTable(*u)
		},
	}

	var newRole string
	var active, setPassword, upStdin bool
	update := &cobra.Command{
		Use:               "update USER [--role ROLE] [--active=true|false] [--password]",
		Short:             "Change a user's role, active flag or password (a deactivation, demotion or new password ends its sessions and, but for the password, its S3 access at once)",
		Args:              exactArgs("USER"),
		ValidArgsFunction: a.completeUsers,
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{}
			if cmd.Flags().Changed("role") {
				body["role"] = newRole
			}
			if cmd.Flags().Changed("active") {
				body["is_active"] = active
			}
			u, err := a.user(args[0])
			if err != nil {
				return err
			}
			if setPassword || upStdin {
				pw, err := a.readPassword("New password for "+u.Username+": ", true, upStdin)
				if err != nil {
					return err
				}
				body["password"] = pw
			}
			if len(body) == 0 {
				return usagef("nothing to update: give --role, --active or --password")
			}
			var out userJSON
			r, err := a.put("users/"+url.PathEscape(u.ID), body, &out)
			if err != nil {
				return err
			}
			if err := a.printUser(r, &out); err != nil {
				return err
			}
			if b := r.barrier(); b != "" && !a.json {
				a.note("Acknowledged after the revocation barrier: %s.", b)
			}
			return nil
		},
	}
	update.Flags().StringVar(&newRole, "role", "", "the new role: Reader, Writer or SuperUser")
	update.Flags().BoolVar(&active, "active", true, "--active=false deactivates the user, --active activates it")
	update.Flags().BoolVar(&setPassword, "password", false, "set a new password (asked for)")
	update.Flags().BoolVar(&upStdin, "password-stdin", false, "set a new password, read from the first line of standard input")

	del := &cobra.Command{
		Use: "delete USER", Short: "Delete a user and its S3 key", Args: exactArgs("USER"), ValidArgsFunction: a.completeUsers,
		RunE: func(_ *cobra.Command, args []string) error {
			u, err := a.user(args[0])
			if err != nil {
				return err
			}
			r, err := a.delete("users/" + url.PathEscape(u.ID))
			if err != nil {
				return err
			}
			if a.json {
				out := r.barrierJSON()
				return a.printJSON(map[string]any{"id": u.ID, "username": u.Username, "deleted": true,
					"confirmed_by": out["confirmed_by"], "lease_expired": out["lease_expired"]})
			}
			a.say("Deleted user %s (%s).", u.Username, u.ID)
			if b := r.barrier(); b != "" {
				a.note("Acknowledged after the revocation barrier: %s.", b)
			}
			return nil
		},
	}
	return group("user", "Manage users", list, create, get, update, del)
}

// completeUsers completes a USER argument with the usernames the API lists
// (when logged in; nothing otherwise).
func (a *app) completeUsers(_ *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var users []userJSON
	if _, err := a.get("users", &users); err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, u := range users {
		if strings.HasPrefix(u.Username, prefix) {
			out = append(out, cobra.CompletionWithDesc(u.Username, u.Role))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
