package admincli

import (
	"net/url"

	"github.com/spf13/cobra"
)

func init() { register(newMetricsCmd) }

type scrapeTokenJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	CreatedBy string `json:"created_by"`
	CreatedAt string `json:"created_at"`
	Token     string `json:"token,omitempty"`
}

func newMetricsCmd(a *app) *cobra.Command {
	var name string
	create := &cobra.Command{
		Use: "create [--name NAME]", Short: "Create a scrape token for GET /metrics (shown only now)", Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			var body any
			if name != "" {
				body = map[string]string{"name": name}
			}
			var t scrapeTokenJSON
			r, err := a.post("metrics/tokens", body, &t)
			if err != nil {
				return err
			}
			if a.json {
				err = a.printRaw(r.body)
			} else {
				err = a.table([]string{"ID", "NAME", "TOKEN"}, [][]string{{t.ID, orDash(t.Name), t.Token}})
			}
			if err != nil {
				return err
			}
			a.note("The token is shown only now (S4 keeps its SHA-256): put it in Prometheus's authorization.credentials (README, Operating S4).")
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "what to call the token (up to 64 of A-Z a-z 0-9 space _ . -)")
	list := &cobra.Command{
		Use: "list", Short: "List the scrape tokens (never the tokens themselves)", Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			var toks []scrapeTokenJSON
			r, err := a.get("metrics/tokens", &toks)
			if err != nil {
				return err
			}
			if a.json {
				return a.printRaw(r.body)
			}
			rows := make([][]string, 0, len(toks))
			for _, t := range toks {
				rows = append(rows, []string{t.ID, orDash(t.Name), t.CreatedBy, shortTime(t.CreatedAt)})
			}
			return a.table([]string{"ID", "NAME", "CREATED BY", "CREATED"}, rows)
		},
	}
	revoke := &cobra.Command{
		Use: "revoke TOKEN-ID", Short: "Revoke a scrape token: no node accepts it once this returns", Args: exactArgs("TOKEN-ID"),
		RunE: func(_ *cobra.Command, args []string) error {
			r, err := a.delete("metrics/tokens/" + url.PathEscape(args[0]))
			if err != nil {
				return err
			}
			if a.json {
				out := r.barrierJSON()
				return a.printJSON(map[string]any{"id": args[0], "revoked": true, "confirmed_by": out["confirmed_by"], "lease_expired": out["lease_expired"]})
			}
			a.say("Revoked scrape token %s.", args[0])
			if b := r.barrier(); b != "" {
				a.note("Acknowledged after the revocation barrier: %s.", b)
			}
			return nil
		},
	}
	token := group("token", "Manage the scrape tokens of GET /metrics", create, list, revoke)
	return group("metrics", "Prometheus metrics: scrape tokens", token)
}
