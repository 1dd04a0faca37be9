package admincli

import (
	"fmt"
	"net/url"

	"github.com/spf13/cobra"
)

func init() { register(newClusterCmd) }

func newClusterCmd(a *app) *cobra.Command {
	status := &cobra.Command{
		Use: "status", Short: "Show the leader and every voter as the endpoint sees them", Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			var st struct {
				Leader string `json:"leader"`
				Nodes  []struct {
					ID           string `json:"id"`
					Address      string `json:"address"`
					APIAddress   string `json:"api_address"`
					Role         string `json:"role"`
					AppliedIndex uint64 `json:"applied_index"`
					LastContact  string `json:"last_contact"`
					Ready        bool   `json:"ready"`
				} `json:"nodes"`
			}
			r, err := a.get("cluster", &st)
			if err != nil {
				return err
			}
			if a.json {
				return a.printRaw(r.body)
			}
			rows := make([][]string, 0, len(st.Nodes))
			for _, n := range st.Nodes {
				rows = append(rows, []string{n.ID, n.Role, yesNo(n.Ready), fmt.Sprint(n.AppliedIndex), n.Address, orDash(n.APIAddress), orDash(n.LastContact)})
			}
			a.say("Leader: %s", orDash(st.Leader))
			return a.table([]string{"NODE", "ROLE", "READY", "APPLIED", "CLUSTER ADDRESS", "API ADDRESS", "LAST CONTACT"}, rows)
		},
	}
	add := &cobra.Command{
		Use: "add NODE-ID CLUSTER-ADDRESS", Short: "Add a voter (host:port of its cluster port); any node forwards it to the leader", Args: exactArgs("NODE-ID", "CLUSTER-ADDRESS"),
		RunE: func(_ *cobra.Command, args []string) error {
			r, err := a.post("cluster/nodes", map[string]string{"id": args[0], "address": args[1]}, nil)
			if err != nil {
				return err
			}
			if a.json {
				return a.printRaw(r.body)
			}
			a.say("Added %s at %s.", args[0], args[1])
			return nil
		},
	}
	remove := &cobra.Command{
		Use: "remove NODE-ID", Short: "Remove a voter", Args: exactArgs("NODE-ID"),
		RunE: func(_ *cobra.Command, args []string) error {
			if _, err := a.delete("cluster/nodes/" + url.PathEscape(args[0])); err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"id": args[0], "removed": true})
			}
			a.say("Removed %s.", args[0])
			return nil
		},
	}
	return group("cluster", "Show and change the cluster's membership", status, add, remove)
}
