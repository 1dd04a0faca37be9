package admincli

import (
	"net/url"

	"github.com/spf13/cobra"
)

func init() { register(newCredentialsCmd) }

func newCredentialsCmd(a *app) *cobra.Command {
	issue := &cobra.Command{
		Use:               "issue USER",
		Short:             "Issue an S3 key pair to a user, replacing the one it had (the secret is shown only now)",
		Args:              exactArgs("USER"),
		ValidArgsFunction: a.completeUsers,
		RunE: func(_ *cobra.Command, args []string) error {
			u, err := a.user(args[0])
			if err != nil {
				return err
			}
			var cred struct {
				AccessKey string `json:"access_key"`
				SecretKey string `json:"secret_key"`
			}
			r, err := a.post("users/"+url.PathEscape(u.ID)+"/credentials", nil, &cred)
			if err != nil {
				return err
			}
			if a.json {
				err = a.printRaw(r.body)
			} else {
				err = a.table([]string{"USER", "ACCESS KEY", "SECRET KEY"}, [][]string{{u.Username, cred.AccessKey, cred.SecretKey}})
			}
			if err != nil {
				return err
			}
			a.note("The secret key is shown only now: S4 keeps it sealed and cannot show it again.")
			if u.AccessKey != "" {
				msg := "It replaces " + u.AccessKey + ", which no node accepts any more"
				if b := r.barrier(); b != "" {
					msg += " (" + b + ")"
				}
				a.note("%s.", msg)
			}
			return nil
		},
	}
	revoke := &cobra.Command{
		Use:               "revoke USER",
		Short:             "Revoke a user's S3 key pair: no node accepts it once this returns",
		Args:              exactArgs("USER"),
		ValidArgsFunction: a.completeUsers,
		RunE: func(_ *cobra.Command, args []string) error {
			u, err := a.user(args[0])
			if err != nil {
				return err
			}
			r, err := a.delete("users/" + url.PathEscape(u.ID) + "/credentials")
			if err != nil {
				return err
			}
			if a.json {
				out := r.barrierJSON()
				return a.printJSON(map[string]any{"user_id": u.ID, "username": u.Username, "revoked": u.AccessKey,
					"confirmed_by": out["confirmed_by"], "lease_expired": out["lease_expired"]})
			}
			if u.AccessKey == "" {
				a.say("%s had no S3 key.", u.Username)
				return nil
			}
			a.say("Revoked %s, the S3 key of %s.", u.AccessKey, u.Username)
			if b := r.barrier(); b != "" {
				a.note("Acknowledged after the revocation barrier: %s.", b)
			}
			return nil
		},
	}
	return group("credentials", "Issue and revoke users' S3 key pairs", issue, revoke)
}
