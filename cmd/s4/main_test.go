package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunDispatch(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("S4_ENDPOINT", "")
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"server", "--log-format", "yaml"}, 2, `--log-format "yaml" is not text or json`},
		{[]string{"admin", "user", "list", "--endpoint", "https://127.0.0.1:1"}, 1, "not logged in to https://127.0.0.1:1"},
		{[]string{"admin", "user", "get"}, 2, "needs 1 argument"},
		{[]string{"admin", "--help"}, 0, "credentials"},
		{[]string{"completion", "zsh"}, 0, "compdef"},
	} {
		var out, errOut bytes.Buffer
		code := run(c.args, &out, &errOut)
		if code != c.code || !strings.Contains(out.String()+errOut.String(), c.out) {
			t.Errorf("s4 %v: exit %d, %q %q; want %d and %q", c.args, code, out.String(), errOut.String(), c.code, c.out)
		}
	}
}
